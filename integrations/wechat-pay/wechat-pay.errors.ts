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

/** The body of an answer that is not data: WeChat's `{code, message}`, or null for HTML and other pages. */
export function parseErrorBody(body: Buffer): WechatPayErrorBody | null {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (parsed && typeof parsed === 'object') {
      const { code, message } = parsed as Record<string, unknown>;
      if (typeof code === 'string') return { code, message: typeof message === 'string' ? message : undefined };
    }
  } catch {
    // not JSON (an HTML error page): the status alone decides
  }
  return null;
}

/** A 404 saying the resource does not exist (certificates in public-key mode, an unknown refund). */
export function isResourceAbsent(status: number, body: Buffer): boolean {
  return status === 404 && parseErrorBody(body)?.code === 'RESOURCE_NOT_EXISTS';
}

/** A 404 saying WeChat has no such order: ORDER_NOT_EXIST, or RESOURCE_NOT_EXISTS on some endpoints. */
export function isOrderAbsent(status: number, body: Buffer): boolean {
  if (status !== 404) return false;
  const code = parseErrorBody(body)?.code;
  return code === 'ORDER_NOT_EXIST' || code === 'RESOURCE_NOT_EXISTS';
}

/** A refused close: `already-closed` when WeChat says ORDER_CLOSED (closing twice is allowed), else the error to throw. */
export function closeRefusal(status: number, body: Buffer, outTradeNo: string): Error | 'already-closed' {
  const error = parseErrorBody(body);
  if (error?.code === 'ORDER_PAID') return new OrderPaidError(outTradeNo);
  // Some answers say a second close succeeded with ORDER_CLOSED instead of a second 204.
  if (error?.code === 'ORDER_CLOSED') return 'already-closed';
  return toHubError(status, error);
}

/** A refused trade bill application: `no-statement` for a day without trades, else the error to throw. */
export function tradeBillRefusal(status: number, body: Buffer, billDate: string, now: Date): Error | 'no-statement' {
  const error = parseErrorBody(body);
  if (error?.code === 'NO_STATEMENT_EXIST') return 'no-statement';
  if (error?.code === 'STATEMENT_CREATING') return new StatementNotReadyError(billDate, now.getTime() + STATEMENT_RETRY_MS);
  return toHubError(status, error);
}

/** A refused refund create: NOT_ENOUGH waits for the balance, the rest as toHubError says. */
export function refundCreateRefusal(status: number, body: Buffer, now: Date): Error {
  const error = parseErrorBody(body);
  if (error?.code === 'NOT_ENOUGH') return new RefundDeferredError(now.getTime() + NOT_ENOUGH_RETRY_MS, error.message ?? 'balance too low');
  return toHubError(status, error);
}
