import type { KeyObject } from 'node:crypto';
import type { Readable } from 'node:stream';

/**
 * WeChat Pay API v3 as the hub uses it: one client per merchant (mchid). The live client
 * (`wechat-pay.live.ts`) speaks the real protocol; in emulator mode it is pointed at
 * `wechat-pay.emulator.ts`. Field names are WeChat's own (snake_case) so they can be checked
 * against its documentation.
 */

/** `trade_state` of an order. REVOKED, USERPAYING and PAYERROR concern payment codes (micropay). */
export type TradeState = 'SUCCESS' | 'REFUND' | 'NOTPAY' | 'CLOSED' | 'REVOKED' | 'USERPAYING' | 'PAYERROR';

/** A payment as the order query and the TRANSACTION.* callbacks return it; amounts in fen. */
export interface WechatPayTransaction {
  appid?: string;
  mchid?: string;
  out_trade_no: string;
  /** Only once paid. */
  transaction_id?: string;
  trade_type?: string;
  trade_state: TradeState;
  trade_state_desc?: string;
  bank_type?: string;
  attach?: string;
  /** RFC 3339 with +08:00, only once paid. */
  success_time?: string;
  payer?: { openid?: string };
  amount?: { total?: number; payer_total?: number; currency?: string; payer_currency?: string };
}

/** `status` of a refund; `CLOSE` is a spelling some documents use for CLOSED. */
export type RefundStatus = 'SUCCESS' | 'CLOSED' | 'CLOSE' | 'PROCESSING' | 'ABNORMAL';

/** A refund as the REFUND.* callbacks carry it (`refund_status`); amounts in fen. */
export interface WechatPayRefundNotice {
  mchid?: string;
  out_trade_no: string;
  transaction_id?: string;
  out_refund_no: string;
  refund_id?: string;
  refund_status: RefundStatus;
  success_time?: string;
  user_received_account?: string;
  amount?: { total?: number; refund?: number; payer_total?: number; payer_refund?: number };
}

/** `POST /v3/refund/domestic/refunds`: always the same `out_refund_no` for one refund, on every retry. */
export interface CreateRefundRequest {
  out_trade_no: string;
  out_refund_no: string;
  /** At most 80 characters; shown to the payer. */
  reason?: string;
  /** Where WeChat sends REFUND.* callbacks; the merchant portal's when absent. */
  notify_url?: string;
  /** fen */
  amount: { refund: number; total: number; currency: 'CNY' };
}

/** A refund as the create and query answers give it; amounts in fen. "Accepted" is not "refunded": read `status`. */
export interface WechatPayRefund {
  refund_id: string;
  out_refund_no: string;
  transaction_id?: string;
  out_trade_no: string;
  channel?: string;
  user_received_account?: string;
  success_time?: string;
  create_time?: string;
  status: RefundStatus;
  amount: { total: number; refund: number; payer_total?: number; payer_refund?: number; currency?: string };
}

/** A callback whose signature, timestamp and AEAD tag were all checked, with its resource decrypted. */
export type VerifiedNotification =
  | (NotificationEnvelope & { kind: 'transaction'; resource: WechatPayTransaction })
  | (NotificationEnvelope & { kind: 'refund'; resource: WechatPayRefundNotice });

export interface NotificationEnvelope {
  /** WeChat's notification id: the same on every retry of one notification. */
  id: string;
  create_time: string;
  /** TRANSACTION.SUCCESS, REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED, … */
  event_type: string;
  summary?: string;
  /** The serial (certificate serial or PUB_KEY_ID_…) whose key verified it; `stored` when reopened from pay_notify_log. */
  serial: string;
}

/** The four headers WeChat signs a response or callback with (lower-case, as Node gives them). */
export interface SignedHeaders {
  'wechatpay-timestamp'?: string;
  'wechatpay-nonce'?: string;
  'wechatpay-signature'?: string;
  'wechatpay-serial'?: string;
}

/** What `/v3/bill/tradebill` answers: where to fetch the file and the SHA1 of its uncompressed bytes. */
export interface BillTicket {
  hash_type: 'SHA1';
  hash_value: string;
  download_url: string;
}

export type BillType = 'ALL' | 'SUCCESS' | 'REFUND';

/** A trade bill application: a file to download, or no file because nothing happened that day. */
export type BillApplication = { kind: 'ticket'; ticket: BillTicket } | { kind: 'no-statement' };

export interface WechatPayClient {
  readonly mchid: string;
  readonly appid: string;
  /** `GET /v3/pay/transactions/out-trade-no/{no}?mchid=`; null when WeChat has no such order (ORDER_NOT_EXIST). */
  queryOrder(outTradeNo: string): Promise<WechatPayTransaction | null>;
  /**
   * `POST …/{no}/close` (204, signed over the empty body). Closing a closed order succeeds again.
   * @throws OrderPaidError when the order was paid meanwhile: apply the payment instead.
   */
  closeOrder(outTradeNo: string): Promise<void>;
  /**
   * `GET /v3/bill/tradebill`. NO_STATEMENT_EXIST (nothing that day) is `no-statement`.
   * @throws StatementNotReadyError on STATEMENT_CREATING (try again later), the hub's errors otherwise.
   */
  applyTradeBill(billDate: string, options?: { billType?: BillType; gzip?: boolean }): Promise<BillApplication>;
  /**
   * Downloads the file at once (the link lives 30 s to 5 min) and yields its uncompressed bytes as they
   * arrive. The stream errors with BillHashMismatchError at its end when the SHA1 differs from the ticket's,
   * so a consumer must treat everything it read as void until the stream ends cleanly.
   */
  downloadBill(ticket: BillTicket): Promise<Readable>;
  /**
   * `POST /v3/refund/domestic/refunds`. The same `out_refund_no` with the same amount answers the same
   * refund (WeChat refunds it once); with another amount WeChat refuses (INVALID_REQUEST).
   * @throws RefundDeferredError on NOT_ENOUGH (this refund waits), the hub's errors otherwise.
   */
  createRefund(request: CreateRefundRequest): Promise<WechatPayRefund>;
  /** `GET /v3/refund/domestic/refunds/{out_refund_no}`; null when WeChat has no such refund (RESOURCE_NOT_EXISTS). */
  queryRefund(outRefundNo: string): Promise<WechatPayRefund | null>;
  /**
   * Checks a callback: the four headers, the timestamp window, the signature over the raw body by the
   * key the serial names, then decrypts the resource (AEAD_AES_256_GCM with the APIv3 key).
   * @throws NotificationRejectedError naming what failed; nothing about the body is trusted before.
   */
  verifyNotification(headers: SignedHeaders, rawBody: Buffer): VerifiedNotification;
  /**
   * Decrypts a callback verified when it arrived (a `pay_notify_log` row with `verified` 1, whose headers
   * are not kept): the envelope, AEAD and resource checks of `verifyNotification`, without the signature.
   * @throws NotificationRejectedError
   */
  openStoredNotification(rawBody: Buffer): VerifiedNotification;
}

/** A merchant's keys: what signs our requests and what verifies WeChat's answers. */
export interface MerchantCredentials {
  mchid: string;
  appid: string;
  /** Serial of the merchant API certificate (`serial_no` in Authorization). */
  serialNo: string;
  /** The merchant API private key (apiclient_key.pem). */
  privateKey: KeyObject;
  /** The APIv3 key: 32 characters, the AES-256-GCM key of callbacks. */
  apiV3Key: string;
  /** WeChat's verification keys by serial: `PUB_KEY_ID_…` public key and/or platform certificate serials. */
  platformKeys: ReadonlyMap<string, KeyObject>;
}
