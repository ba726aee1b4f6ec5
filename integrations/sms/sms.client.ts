import type { z } from 'zod';
import { PermanentError, type DeferredError, type RateLimitedError, type RetryableError } from '../../lib/errors';

/**
 * The provider-neutral SMS contract. Neither vendor has an idempotency key: the caller writes its
 * delivery row under a unique key before `send` and marks it `UNKNOWN` on `SmsOutcomeUnknownError`.
 */

export type SmsProvider = 'aliyun' | 'tencent';

export interface SmsTemplate {
  /** Aliyun `TemplateCode` (`SMS_xxx`) or Tencent `TemplateId`. */
  id: string;
  /** The approved signature name (签名). */
  sign: string;
  /**
   * Template variables by name. Aliyun sends them as a JSON object; Tencent's template takes them by
   * position, in this object's insertion order. Numbers are sent as strings (Aliyun rejects numeric JSON).
   */
  params: Readonly<Record<string, string | number>>;
}

export interface SmsSendContext {
  /** Echoed back in receipts (Aliyun `OutId`, Tencent `SessionContext`): the delivery row's key. */
  outId?: string;
}

export type SmsNumberResult =
  | { phone: string; ok: true; serialNo: string; fee?: number }
  | { phone: string; ok: false; code: string; message: string; error: PermanentError | DeferredError | RateLimitedError | RetryableError };

export interface SmsSendResult {
  provider: SmsProvider;
  requestId: string;
  /** Aliyun's receipt id for the whole request; Tencent has one `serialNo` per number instead. */
  bizId?: string;
  /** One entry per number asked for, in the same order. Tencent can fail some numbers inside a 200. */
  perNumber: SmsNumberResult[];
}

/** One delivery receipt (回执), whichever vendor pushed it. */
export interface SmsReceipt {
  provider: SmsProvider;
  /** Its place in the pushed batch, from 0: how logs name a receipt without its values. */
  index: number;
  /** Aliyun `biz_id` (shared by the request's numbers) or Tencent `sid` (= the number's serialNo). */
  messageId: string;
  phone: string;
  /** Decided by the vendor's boolean/status field, never by the carrier code text. */
  success: boolean;
  /** The carrier's code, raw (`DELIVRD`, `DELIVERED`, `UNDELIV`, `MBBLACK`, …): opaque. */
  errCode: string;
  errMessage: string;
  /** Beijing `yyyy-MM-dd HH:mm:ss` as the vendor wrote it. */
  reportedAt: string;
  outId?: string;
}

/** A receipt of a pushed batch that could not be read: its place in the batch and why (never its values). */
export interface RejectedReceipt {
  index: number;
  reason: string;
}

/** A pushed batch, read row by row: one bad row never costs the others. */
export interface SmsReceiptBatch {
  receipts: SmsReceipt[];
  rejected: RejectedReceipt[];
}

export interface SmsClient {
  readonly provider: SmsProvider;
  /** Largest number list one request may carry (Aliyun 1000, Tencent 200); more is refused before sending. */
  readonly maxNumbersPerRequest: number;
  /** Request-level failures throw the hub's error classes; per-number failures come back in `perNumber`. */
  send(to: string | readonly string[], template: SmsTemplate, context?: SmsSendContext): Promise<SmsSendResult>;
  /** The receipts in a pushed callback body (already JSON-parsed), row by row; throws PermanentError when the body is no batch at all. */
  parseReceipt(body: unknown): SmsReceiptBatch;
  /** What the receipt endpoint must answer so the vendor stops re-pushing. */
  readonly receiptAck: Readonly<Record<string, string | number>>;
}

/** Template params as strings, in insertion order. */
export function stringParams(params: SmsTemplate['params']): [string, string][] {
  return Object.entries(params).map(([k, v]) => [k, String(v)]);
}

/** Why a row was refused, from the schema's issues: field paths and rules only, so no value reaches a log. */
function rowReason(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'row'}: ${i.message}`).join('; ').slice(0, 300);
}

/**
 * A pushed receipt body read row by row. A body that is no JSON array is no batch (PermanentError);
 * inside one, a row the schema refuses is reported and the others are kept, because the vendor
 * would push the same bad row again however often it was refused.
 */
export function parseReceiptRows<Row>(body: unknown, row: z.ZodType<Row>, toReceipt: (r: Row, index: number) => SmsReceipt, what: string): SmsReceiptBatch {
  if (!Array.isArray(body)) throw new PermanentError('BAD_RECEIPT', `not ${what}: expected a JSON array`);
  const batch: SmsReceiptBatch = { receipts: [], rejected: [] };
  body.forEach((item: unknown, index) => {
    const parsed = row.safeParse(item);
    if (parsed.success) batch.receipts.push(toReceipt(parsed.data, index));
    else batch.rejected.push({ index, reason: rowReason(parsed.error) });
  });
  return batch;
}
