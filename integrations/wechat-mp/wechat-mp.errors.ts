import { OutcomeUnknownError, PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';

/**
 * WeChat's `errcode` answers turned into the hub's error classes. The only place that
 * reads WeChat message/token error codes.
 */

/** The token the call used is wrong, revoked or expired: invalidate it (if still cached), refresh, retry once. */
export const TOKEN_ERROR_CODES: ReadonlySet<number> = new Set([40001, 40014, 42001]);

/** 45011: the per-minute quota; WeChat's window is a minute. */
export const MINUTE_QUOTA_WAIT_MS = 60_000;
const BEIJING_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

/** Who must act on a permanent answer. */
export type WechatMpFailure =
  | 'user-template' // this user refused / used up this template (43101): clear the subscription credit
  | 'user' // unknown openid or not a follower: nothing to send to
  | 'payload' // our request is malformed: a bug to fix
  | 'config'; // appid, secret, template id, IP whitelist, permissions: an operator must fix it (alert)

const PERMANENT: ReadonlyMap<number, { code: string; failure: WechatMpFailure }> = new Map([
  [43101, { code: 'USER_REFUSED', failure: 'user-template' }],
  [43004, { code: 'NOT_FOLLOWER', failure: 'user' }],
  [40003, { code: 'INVALID_OPENID', failure: 'user' }],
  [50002, { code: 'USER_LIMITED', failure: 'user' }],
  [47003, { code: 'INVALID_TEMPLATE_DATA', failure: 'payload' }],
  [47001, { code: 'BAD_DATA_FORMAT', failure: 'payload' }],
  [41030, { code: 'INVALID_PAGE', failure: 'payload' }],
  [44002, { code: 'EMPTY_BODY', failure: 'payload' }],
  [43002, { code: 'REQUIRE_POST', failure: 'payload' }],
  [41001, { code: 'TOKEN_MISSING', failure: 'payload' }],
  [40002, { code: 'INVALID_GRANT_TYPE', failure: 'payload' }],
  [40037, { code: 'INVALID_TEMPLATE_ID', failure: 'config' }],
  [48001, { code: 'API_UNAUTHORIZED', failure: 'config' }],
  [40164, { code: 'IP_NOT_WHITELISTED', failure: 'config' }],
  [40013, { code: 'INVALID_APPID', failure: 'config' }],
  [40125, { code: 'INVALID_SECRET', failure: 'config' }],
  [45109, { code: 'API_WITHDRAWN', failure: 'config' }],
]);

/** What WeChat answered, kept as the cause of the hub error. */
export class WechatMpApiError extends Error {
  constructor(
    readonly errcode: number,
    readonly errmsg: string,
  ) {
    super(`WeChat errcode ${errcode}: ${errmsg}`);
    this.name = 'WechatMpApiError';
  }
}

/** A permanent WeChat answer; `code` names it, `failure` says who must act. */
export class WechatMpPermanentError extends PermanentError {
  constructor(
    code: string,
    readonly errcode: number,
    readonly failure: WechatMpFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** Milliseconds until the next midnight in Beijing, when WeChat's daily quotas reset. */
export function msUntilBeijingMidnight(now: Date): number {
  const local = now.getTime() + BEIJING_OFFSET_MS;
  return Math.ceil((local + 1) / DAY_MS) * DAY_MS - local;
}

/** Maps a non-zero errcode: retry, pause the account, or fail for good. */
export function toHubError(errcode: number, errmsg: string, now: Date = new Date()): Error {
  const cause = new WechatMpApiError(errcode, errmsg);
  const text = `WeChat errcode ${errcode}: ${errmsg}`;
  if (errcode === -1) return new RetryableError(`${text} (system busy)`, { cause });
  if (errcode === 45009) return new RateLimitedError(msUntilBeijingMidnight(now), `${text} (daily quota reached)`, { cause });
  if (errcode === 45011) return new RateLimitedError(MINUTE_QUOTA_WAIT_MS, `${text} (minute quota reached)`, { cause });
  // After the one retry a token code means the secret or the token service is wrong: an operator's problem.
  if (TOKEN_ERROR_CODES.has(errcode)) return new WechatMpPermanentError('TOKEN_REJECTED', errcode, 'config', `${text} (after a token refresh)`, { cause });
  const known = PERMANENT.get(errcode);
  if (known) return new WechatMpPermanentError(known.code, errcode, known.failure, text, { cause });
  // An unknown code: the message was not accepted, so trying again cannot send it twice.
  return new RetryableError(text, { cause });
}

/** The request was sent and no answer came back: WeChat may or may not have delivered it. */
export function outcomeUnknown(what: string, reason: string): OutcomeUnknownError {
  return new OutcomeUnknownError(`${what}: ${reason}; the message may have been sent`);
}
