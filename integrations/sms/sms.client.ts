import type { DeferredError, PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';

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

export interface SmsClient {
  readonly provider: SmsProvider;
  /** Largest number list one request may carry (Aliyun 1000, Tencent 200); more is refused before sending. */
  readonly maxNumbersPerRequest: number;
  /** Request-level failures throw the hub's error classes; per-number failures come back in `perNumber`. */
  send(to: string | readonly string[], template: SmsTemplate, context?: SmsSendContext): Promise<SmsSendResult>;
  /** The receipts in a pushed callback body (already JSON-parsed); throws PermanentError on a malformed body. */
  parseReceipt(body: unknown): SmsReceipt[];
  /** What the receipt endpoint must answer so the vendor stops re-pushing. */
  readonly receiptAck: Readonly<Record<string, string | number>>;
}

/** Template params as strings, in insertion order. */
export function stringParams(params: SmsTemplate['params']): [string, string][] {
  return Object.entries(params).map(([k, v]) => [k, String(v)]);
}
