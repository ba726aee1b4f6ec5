import { DeferredError, PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';

/**
 * WeChat Pay's answers turned into the hub's error classes. The only place that reads WeChat's
 * error codes and HTTP statuses.
 */

/** WeChat's error envelope `{code, message, detail?}` (or an HTML page, some 4xx/5xx). */
export interface WechatPayErrorBody {
  code?: string;
  message?: string;
}

/** WeChat asks to wait this long after FREQUENCY_LIMITED / RATE_LIMITED on one merchant account. */
export const WECHAT_PAY_RATE_LIMIT_WAIT_MS = 60_000;
/** A bill still being generated (STATEMENT_CREATING) is asked for again after this long. */
export const STATEMENT_RETRY_MS = 30 * 60_000;

/** Codes after which the same request may succeed later. */
const RETRYABLE_CODES = new Set(['SYSTEM_ERROR', 'BIZ_ERR_NEED_RETRY', 'SYSTEMERROR', 'BANKERROR']);
const RATE_LIMIT_CODES = new Set(['FREQUENCY_LIMITED', 'RATE_LIMITED', 'FREQUENCY_LIMIT_EXCEED']);

/** The order was paid before it could be closed: apply the payment instead. */
export class OrderPaidError extends PermanentError {
  constructor(readonly outTradeNo: string) {
    super('ORDER_PAID', `order ${outTradeNo} is already paid`);
  }
}

/** STATEMENT_CREATING: the bill of that day is not ready; ask again later, using no attempt. */
export class StatementNotReadyError extends DeferredError {
  constructor(readonly billDate: string, untilMs: number) {
    super(untilMs, `the bill of ${billDate} is still being generated (STATEMENT_CREATING)`);
  }
}

/** NOT_ENOUGH: the merchant's balance cannot cover this refund now. It waits (no attempt used); nothing else pauses. */
export class RefundDeferredError extends DeferredError {
  constructor(untilMs: number, message: string) {
    super(untilMs, `WeChat Pay NOT_ENOUGH: ${message}; the refund waits for the balance`);
  }
}

/** How long a refund waits after NOT_ENOUGH before it is tried again (someone must top up the balance). */
export const NOT_ENOUGH_RETRY_MS = 30 * 60_000;

/** The downloaded bill's SHA1 differs from the one WeChat announced: a truncated or damaged file. */
export class BillHashMismatchError extends RetryableError {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`bill SHA1 mismatch: expected ${expected}, got ${actual} (truncated or damaged download)`);
  }
}

/** A callback that failed verification: forged, stale, tampered or undecryptable. Nothing of it is used. */
export class NotificationRejectedError extends PermanentError {
  constructor(reason: string) {
    super('NOTIFICATION_REJECTED', reason);
  }
}

/** A 2xx response whose signature could not be verified: never trusted as data. */
export class ResponseVerificationError extends RetryableError {}

/** A non-2xx answer, with what WeChat said. */
export class WechatPayApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`WeChat Pay ${status} ${code}: ${message}`);
    this.name = 'WechatPayApiError';
  }
}

/** WeChat has no such order (ORDER_NOT_EXIST, or RESOURCE_NOT_EXISTS on some endpoints): the payer never reached it. */
export function isOrderNotExist(err: unknown): boolean {
  return err instanceof PermanentError && (err.code === 'ORDER_NOT_EXIST' || err.code === 'RESOURCE_NOT_EXISTS');
}

/** Maps a non-2xx answer to the hub's taxonomy: retry, wait as an account, or fail for good. */
export function toHubError(status: number, body: WechatPayErrorBody | null): Error {
  const code = body?.code ?? (status >= 500 ? 'HTTP_5XX' : `HTTP_${status}`);
  const message = body?.message ?? 'no error body';
  const cause = new WechatPayApiError(status, code, message);
  if (RATE_LIMIT_CODES.has(code) || status === 429) {
    return new RateLimitedError(WECHAT_PAY_RATE_LIMIT_WAIT_MS, `WeChat Pay ${code}: ${message}`, { cause });
  }
  if (status >= 500 || RETRYABLE_CODES.has(code)) return new RetryableError(`WeChat Pay ${status} ${code}: ${message}`, { cause });
  return new PermanentError(code, message, { cause });
}
