import { PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';

/**
 * The school system's HTTP answers turned into the hub's error classes: the only place that reads
 * its status codes. Every call is a read (or the token grant), so repeating one is always safe.
 */

/** A 429 without a usable Retry-After: the system's quota window is a minute. */
export const DEFAULT_RETRY_AFTER_MS = 60_000;

/** What the system answered, kept as the cause of the hub error. */
export class SchoolTmsApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`ZYEDU_TMS HTTP ${status}: ${body.slice(0, 200)}`);
    this.name = 'SchoolTmsApiError';
  }
}

/** `Retry-After` as seconds or as an HTTP date; the default when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now: Date): number {
  if (header === undefined || header.trim() === '') return DEFAULT_RETRY_AFTER_MS;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? DEFAULT_RETRY_AFTER_MS : Math.max(0, at - now.getTime());
}

/** A non-2xx answer: throttled (the whole account waits), transient, or never going to work. */
export function toHubError(what: string, status: number, body: string, retryAfter: string | undefined, now: Date): Error {
  const cause = new SchoolTmsApiError(status, body);
  if (status === 429) return new RateLimitedError(retryAfterMs(retryAfter, now), `${what}: HTTP 429 (throttled)`, { cause });
  if (status >= 500 || status === 408) return new RetryableError(`${what}: HTTP ${status}`, { cause });
  // After the one refresh a 401 means the client credentials are wrong: an operator must fix them.
  if (status === 401) return new PermanentError('SCHOOL_TMS_UNAUTHORIZED', `${what}: HTTP 401 after a token refresh (check SCHOOL_TMS_CLIENT_ID/_SECRET)`, { cause });
  return new PermanentError(`SCHOOL_TMS_HTTP_${status}`, `${what}: HTTP ${status}`, { cause });
}

/** A request that got no answer (refused, reset, timed out): reads are safe to repeat. */
export function networkError(what: string, code: string): RetryableError {
  return new RetryableError(`${what}: ${code}`, { cause: new Error(code) });
}
