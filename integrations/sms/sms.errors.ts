import { DeferredError, OutcomeUnknownError, PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';

/**
 * Aliyun's and Tencent's SMS codes turned into the hub's error classes; the only place that reads them.
 * Per-number limits defer or drop one message; account-wide limits pause the whole queue.
 */

export type SmsHubError = PermanentError | DeferredError | RateLimitedError | RetryableError;

/** The request left and its answer was lost (timeout, dropped connection): it may have been sent. */
export class SmsOutcomeUnknownError extends OutcomeUnknownError {}

/** A per-number per-minute limit lifts after this long. */
export const PER_MINUTE_WAIT_MS = 60_000;
/** Account-wide daily caps, an empty balance or arrears: someone must act; look again after this long. */
export const ACCOUNT_PAUSE_MS = 30 * 60_000;
/** API request throttling without a vendor hint. */
export const THROTTLE_WAIT_MS = 1_000;

const ALIYUN_PERMANENT = new Set([
  'isv.MOBILE_NUMBER_ILLEGAL', 'isv.MOBILE_COUNT_OVER_LIMIT', 'isv.TEMPLATE_MISSING_PARAMETERS', 'isv.INVALID_JSON_PARAM',
  'isv.PARAM_LENGTH_LIMIT', 'isv.BLACK_KEY_CONTROL_LIMIT', 'isv.PARAM_NOT_SUPPORT_URL', 'isv.TEMPLATE_PARAMS_ILLEGAL',
  'isv.SMS_CONTENT_ILLEGAL', 'isv.SMS_TEMPLATE_ILLEGAL', 'isv.SMS_SIGNATURE_ILLEGAL', 'isv.SMS_SIGN_ILLEGAL',
  'isv.SMS_SIGNATURE_SCENE_ILLEGAL', 'isv.DOMESTIC_NUMBER_NOT_SUPPORTED', 'isv.EXTEND_CODE_ERROR', 'isp.RAM_PERMISSION_DENY',
  'isv.ACCOUNT_NOT_EXISTS', 'isv.ACCOUNT_ABNORMAL', 'isv.PRODUCT_UN_SUBSCRIPT', 'isv.PRODUCT_UNSUBSCRIBE',
  'isv.INVALID_PARAMETERS', 'SignatureDoesNotMatch', 'InvalidVersion', 'InvalidAction.NotFound',
  'InvalidAccessKeyId.NotFound', 'InvalidAccessKeyId.Inactive', 'IncompleteSignature', 'MissingParameter',
]);
/** Account-wide: the daily total cap of the console, or no money left. */
const ALIYUN_ACCOUNT = new Set(['isv.DAY_LIMIT_CONTROL', 'isv.AMOUNT_NOT_ENOUGH', 'isv.OUT_OF_SERVICE']);

/** Aliyun's `Code`/`Message` (from a 2xx body or a gateway 4xx/5xx) as a hub error. */
export function aliyunError(code: string, message: string, now: Date, retryAfterMs?: number): SmsHubError {
  const text = `Aliyun SMS ${code}: ${message}`;
  if (code === 'isv.BUSINESS_LIMIT_CONTROL') {
    // One phone's frequency rule: the Message says which window (触发分钟级/小时级/天级流控).
    if (/小时级|天级|hour|day/i.test(message)) return new PermanentError(code, `${text} (this message is dropped)`);
    return new DeferredError(now.getTime() + PER_MINUTE_WAIT_MS, text);
  }
  if (ALIYUN_ACCOUNT.has(code)) return new RateLimitedError(ACCOUNT_PAUSE_MS, text);
  if (code.startsWith('Throttling') || retryAfterMs !== undefined) return new RateLimitedError(retryAfterMs ?? THROTTLE_WAIT_MS, text);
  if (ALIYUN_PERMANENT.has(code)) return new PermanentError(code, text);
  // isp.SYSTEM_ERROR, SignatureNonceUsed (a fresh nonce is signed per attempt), InvalidTimeStamp.Expired, unknown.
  return new RetryableError(text);
}

const TENCENT_PERMANENT_PREFIXES = ['InvalidParameterValue.', 'UnsupportedOperation.', 'InvalidParameter', 'MissingParameter'];
const TENCENT_PERMANENT = new Set([
  'LimitExceeded.PhoneNumberOneHourLimit', 'LimitExceeded.PhoneNumberDailyLimit', 'LimitExceeded.PhoneNumberSameContentDailyLimit',
  'LimitExceeded.PhoneNumberCountLimit', 'FailedOperation.PhoneNumberParseFail', 'FailedOperation.PhoneNumberInBlacklist',
  'FailedOperation.TemplateIncorrectOrUnapproved', 'FailedOperation.SignatureIncorrectOrUnapproved',
  'FailedOperation.TemplateParamSetNotMatchApprovedTemplate', 'FailedOperation.TemplateUnapprovedOrNotExist',
  'FailedOperation.ContainSensitiveWord', 'FailedOperation.MissingSignature', 'FailedOperation.MissingTemplateToModify',
  'AuthFailure.SignatureFailure', 'AuthFailure.SecretIdNotFound', 'AuthFailure.InvalidSecretId', 'AuthFailure.UnauthorizedOperation',
  'UnauthorizedOperation.SmsSdkAppIdVerifyFail', 'UnauthorizedOperation.RequestIpNotInWhitelist',
  'UnauthorizedOperation.SdkAppIdIsDisabled', 'InvalidAction', 'NoSuchVersion',
]);
const TENCENT_ACCOUNT = new Set([
  'LimitExceeded.AppDailyLimit', 'LimitExceeded.AppMainlandChinaDailyLimit', 'LimitExceeded.AppGlobalDailyLimit',
  'LimitExceeded.DailyLimit', 'LimitExceeded.AppCountryOrRegionDailyLimit', 'FailedOperation.InsufficientBalanceInSmsPackage',
  'UnauthorizedOperation.SerivceSuspendDueToArrears',
]);
const BEIJING_OFFSET_MS = 8 * 3_600_000;

/** The next 08:00 Beijing: marketing SMS may only go out 08:00–22:00. */
function nextEightBeijing(now: Date): number {
  const local = new Date(now.getTime() + BEIJING_OFFSET_MS);
  const eight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate(), 8) - BEIJING_OFFSET_MS;
  return eight > now.getTime() ? eight : eight + 24 * 3_600_000;
}

/** A Tencent `Error.Code` (request-level) or a per-number `SendStatusSet[].Code` as a hub error. */
export function tencentError(code: string, message: string, now: Date): SmsHubError {
  const text = `Tencent SMS ${code}: ${message}`;
  if (code === 'LimitExceeded.PhoneNumberThirtySecondLimit') return new DeferredError(now.getTime() + 30_000, text);
  if (code === 'LimitExceeded.DeliveryFrequencyLimit') return new DeferredError(now.getTime() + PER_MINUTE_WAIT_MS, text);
  if (code === 'FailedOperation.MarketingSendTimeConstraint') return new DeferredError(nextEightBeijing(now), text);
  if (TENCENT_ACCOUNT.has(code)) return new RateLimitedError(ACCOUNT_PAUSE_MS, text);
  if (code === 'RequestLimitExceeded' || code.startsWith('RequestLimitExceeded.')) return new RateLimitedError(THROTTLE_WAIT_MS, text);
  if (TENCENT_PERMANENT.has(code) || TENCENT_PERMANENT_PREFIXES.some((p) => code.startsWith(p))) return new PermanentError(code, text);
  // InternalError.*, AuthFailure.SignatureExpire (clock skew; a new timestamp is signed per attempt), unknown.
  return new RetryableError(text);
}

/** A gateway status with no Tencent error body: a 429 is the account's request limit, anything else transient. */
export function tencentHttpError(status: number, text: string, now: Date): SmsHubError {
  return tencentError(status === 429 ? 'RequestLimitExceeded' : `HTTP${status}`, text, now);
}

/** More numbers than one SendSms request takes, refused before the call under the vendor's own code for it. */
export function tooManyNumbers(provider: 'aliyun' | 'tencent', count: number, max: number): PermanentError {
  const [vendor, code] = provider === 'aliyun' ? ['Aliyun', 'isv.MOBILE_COUNT_OVER_LIMIT'] : ['Tencent', 'LimitExceeded.PhoneNumberCountLimit'];
  return new PermanentError(code, `${vendor} SendSms takes 1–${max} numbers, got ${count}: split the list`);
}
