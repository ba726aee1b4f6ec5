import { z } from 'zod';

/**
 * WeChat Pay's answers and callback resources as the live client accepts them. Fields are optional
 * as in WeChat's own SDKs; unknown fields pass through.
 */

export const tradeStateSchema = z.enum(['SUCCESS', 'REFUND', 'NOTPAY', 'CLOSED', 'REVOKED', 'USERPAYING', 'PAYERROR']);
export const amountSchema = z.looseObject({ total: z.number().int().optional(), payer_total: z.number().int().optional(), currency: z.string().optional(), payer_currency: z.string().optional() });
export const transactionSchema = z.looseObject({
  appid: z.string().optional(),
  mchid: z.string().optional(),
  out_trade_no: z.string().min(1),
  transaction_id: z.string().optional(),
  trade_type: z.string().optional(),
  trade_state: tradeStateSchema,
  trade_state_desc: z.string().optional(),
  bank_type: z.string().optional(),
  attach: z.string().optional(),
  success_time: z.string().optional(),
  payer: z.looseObject({ openid: z.string().optional() }).optional(),
  amount: amountSchema.optional(),
});
/** `CLOSE` is how some documents spell CLOSED: read as CLOSED so nobody downstream meets it. */
export const refundStatusSchema = z.enum(['SUCCESS', 'CLOSED', 'CLOSE', 'PROCESSING', 'ABNORMAL']).transform((s) => (s === 'CLOSE' ? 'CLOSED' : s));
export const refundNoticeSchema = z.looseObject({
  mchid: z.string().optional(),
  out_trade_no: z.string().min(1),
  transaction_id: z.string().optional(),
  out_refund_no: z.string().min(1),
  refund_id: z.string().optional(),
  refund_status: refundStatusSchema,
  success_time: z.string().optional(),
  user_received_account: z.string().optional(),
  amount: z.looseObject({ total: z.number().int().optional(), refund: z.number().int().optional(), payer_total: z.number().int().optional(), payer_refund: z.number().int().optional() }).optional(),
});
/** The create-refund and query-refund answer; amounts in fen. */
export const refundSchema = z.looseObject({
  refund_id: z.string().min(1),
  out_refund_no: z.string().min(1),
  transaction_id: z.string().optional(),
  out_trade_no: z.string().min(1),
  channel: z.string().optional(),
  user_received_account: z.string().optional(),
  success_time: z.string().optional(),
  create_time: z.string().optional(),
  status: refundStatusSchema,
  funds_account: z.string().optional(),
  amount: z.looseObject({
    total: z.number().int(),
    refund: z.number().int(),
    payer_total: z.number().int().optional(),
    payer_refund: z.number().int().optional(),
    currency: z.string().optional(),
  }),
});
export const ticketSchema = z.looseObject({ hash_type: z.literal('SHA1'), hash_value: z.string().regex(/^[0-9a-fA-F]{40}$/), download_url: z.string().min(1) });
export const notificationSchema = z.looseObject({
  id: z.string().min(1),
  create_time: z.string(),
  event_type: z.string().min(1),
  summary: z.string().optional(),
  resource: z.looseObject({ algorithm: z.string(), ciphertext: z.string(), nonce: z.string(), associated_data: z.string().nullish(), original_type: z.string().optional() }),
});
export const aeadSchema = z.looseObject({ algorithm: z.string().optional(), ciphertext: z.string(), nonce: z.string(), associated_data: z.string().nullish() });
export const certificatesSchema = z.object({
  data: z.array(z.looseObject({ serial_no: z.string(), effective_time: z.string(), expire_time: z.string(), encrypt_certificate: aeadSchema })),
});
