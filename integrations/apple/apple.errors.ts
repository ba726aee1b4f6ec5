import { APIError, APIException } from '@apple/app-store-server-library';
import { PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';

/**
 * App Store Server API answers turned into the hub's error classes. The only place that reads
 * Apple's error codes and HTTP statuses.
 */

/** Apple gives no Retry-After; its rate limits are per hour, so a throttled account waits a minute before asking again. */
export const APPLE_RATE_LIMIT_WAIT_MS = 60_000;

/** The name Apple's library gives the code (`TRANSACTION_ID_NOT_FOUND`), or the number. */
export function appleErrorName(code: number): string {
  return APIError[code] ?? String(code);
}

/** An API answer that will not change by asking again; `apiError` says which ("never" codes, bad requests). */
export class AppleApiError extends PermanentError {
  constructor(
    readonly httpStatus: number,
    readonly apiError: number | null,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(apiError === null ? `APPLE_HTTP_${httpStatus}` : `APPLE_${appleErrorName(apiError)}`, message, options);
  }
}

export function mapAppleError(err: unknown, what: string): Error {
  if (!(err instanceof APIException)) {
    // Thrown before an answer came (refused, reset, aborted by our timeout) or an unreadable 2xx body.
    const message = err instanceof Error ? err.message : String(err);
    return new RetryableError(`App Store API ${what}: ${message}`, { cause: err });
  }
  const status = err.httpStatusCode;
  const code = typeof err.apiError === 'number' ? err.apiError : null;
  const label = `App Store API ${what}: HTTP ${status}${code === null ? '' : ` ${appleErrorName(code)} (${code})`}${err.errorMessage ? `: ${err.errorMessage}` : ''}`;
  if (status === 429 || code === APIError.RATE_LIMIT_EXCEEDED) return new RateLimitedError(APPLE_RATE_LIMIT_WAIT_MS, label, { cause: err });
  // Apple marks the codes worth another try by name: ACCOUNT_NOT_FOUND_RETRYABLE, GENERAL_INTERNAL_RETRYABLE, ….
  if (code !== null && appleErrorName(code).endsWith('_RETRYABLE')) return new RetryableError(label, { cause: err });
  if (status >= 500) return new RetryableError(label, { cause: err });
  // 401: the JWT was refused, i.e. the key, key id, issuer or bundle id is wrong (or the key was revoked).
  // Asking again signs the same way, so it fails at once and the reason names the credentials to fix.
  if (status === 401) return new AppleApiError(status, code, `${label}: check APPLE_ISSUER_ID, APPLE_KEY_ID, APPLE_PRIVATE_KEY_FILE and APPLE_BUNDLE_ID`, { cause: err });
  return new AppleApiError(status, code, label, { cause: err });
}
