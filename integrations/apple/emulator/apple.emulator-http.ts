import { verify, type KeyObject } from 'node:crypto';
import type { EmulatorAnswer, EmulatorRequest } from '../../emulator-server';
import type { NotificationSender } from './apple.emulator-notify';
import { HISTORY_PAGE_SIZE, type EmulatorState } from './apple.emulator-state';
import type { ApiFault } from './apple.emulator-types';

/**
 * The App Store Server API's HTTP face: the ES256 bearer token checked with code of its own (not
 * the library's), the endpoints the hub calls, Apple's error bodies `{errorCode, errorMessage}`.
 */

export interface ApiContext {
  readonly state: EmulatorState;
  readonly sender: NotificationSender;
  readonly key: { readonly issuerId: string; readonly keyId: string; readonly publicKey: KeyObject };
  readonly maxTokenLifetimeMs: number;
  readonly faults: { fault: ApiFault; left: number }[];
  sendTest(): { notificationUUID: string };
}

type Answer = { status: number; body?: unknown };

const notFound = (): Answer => ({ status: 404, body: { errorCode: 4040010, errorMessage: 'Transaction id not found.' } });
const badRequest = (errorCode: number, errorMessage: string): Answer => ({ status: 400, body: { errorCode, errorMessage } });
const familyRefused = (): Answer => badRequest(4000185, 'Invalid request. Family Sharing transactions aren\u2019t supported by this endpoint.');

export async function handleApi(request: EmulatorRequest, ctx: ApiContext): Promise<EmulatorAnswer> {
  let answer: Answer;
  try {
    // The library always appends '?', even with no parameters.
    const { url } = request;
    // The revocation endpoint of the `ocspUnavailable` chain: an OCSP responder that is down.
    if (url.pathname.startsWith('/ocsp')) return { status: 503 };
    const refusal = checkBearer(request.headers.authorization, ctx);
    const fault = refusal ? null : injectedFault(url.pathname, ctx);
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    answer = refusal ? { status: 401 } : (fault?.answer ?? route(request.method, url, request.body.toString('utf8'), ctx));
  } catch (err) {
    answer = { status: 500, body: { errorCode: 5000000, errorMessage: err instanceof Error ? err.message : 'internal error' } };
  }
  // Apple's JSON type carries no charset, so the shared jsonAnswer (which adds one) is not used.
  return answer.body === undefined ? { status: answer.status } : { status: answer.status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(answer.body) };
}

function injectedFault(path: string, ctx: ApiContext): { answer: Answer; delayMs: number } | null {
  const hit = ctx.faults.find((f) => f.left > 0 && (f.fault.pathContains === undefined || path.includes(f.fault.pathContains)));
  if (!hit) return null;
  hit.left -= 1;
  return { answer: { status: hit.fault.status, body: { errorCode: hit.fault.errorCode, errorMessage: 'injected by the emulator' } }, delayMs: hit.fault.delayMs ?? 0 };
}

function route(method: string, url: URL, body: string, ctx: ApiContext): Answer {
  const st = ctx.state;
  const path = url.pathname;
  let m: RegExpExecArray | null;
  if (method === 'GET' && (m = /^\/inApps\/v1\/transactions\/([^/]+)$/.exec(path))) {
    const tx = st.transactions.get(decodeURIComponent(m[1] ?? ''));
    return tx ? { status: 200, body: { signedTransactionInfo: st.signTransaction(tx) } } : notFound();
  }
  if (method === 'GET' && (m = /^\/inApps\/v2\/(history|refund\/lookup)\/([^/]+)$/.exec(path))) {
    const refunds = m[1] !== 'history';
    const page = st.history(
      decodeURIComponent(m[2] ?? ''),
      url.searchParams.get('revision') || null,
      (t) => !refunds || t.refunded !== undefined,
      (t) => (refunds ? t.refunded : t.changed),
    );
    if (!page) return notFound();
    if (page.invalidRevision) return badRequest(4000005, 'Invalid request revision.');
    const common = { revision: page.revision, hasMore: page.hasMore, signedTransactions: page.signed };
    return { status: 200, body: refunds ? common : { ...common, bundleId: st.bundleId, appAppleId: st.appAppleId, environment: page.environment } };
  }
  if (method === 'GET' && (m = /^\/inApps\/v1\/subscriptions\/([^/]+)$/.exec(path))) {
    const id = decodeURIComponent(m[1] ?? '');
    const groups = st.statuses(id, url.searchParams.getAll('status').map(Number));
    if (!groups) return notFound();
    const data = groups.map((g) => ({ subscriptionGroupIdentifier: g.groupId, lastTransactions: g.items }));
    return { status: 200, body: { environment: st.transaction(id).environment, bundleId: st.bundleId, appAppleId: st.appAppleId, data } };
  }
  if (method === 'POST' && path === '/inApps/v1/notifications/history') return notificationHistory(url, body, ctx);
  if (method === 'POST' && path === '/inApps/v1/notifications/test') return { status: 200, body: { testNotificationToken: ctx.sendTest().notificationUUID } };
  if (method === 'PUT' && (m = /^\/inApps\/v1\/subscriptions\/extend\/([^/]+)$/.exec(path))) {
    const sub = st.subscriptions.get(decodeURIComponent(m[1] ?? ''));
    if (!sub) return notFound();
    if (sub.sharedFrom) return familyRefused();
    const latest = st.latest(sub);
    return { status: 200, body: { originalTransactionId: sub.originalTransactionId, webOrderLineItemId: latest.webOrderLineItemId, success: true, effectiveDate: latest.expiresDate } };
  }
  if (method === 'PUT' && (m = /^\/inApps\/v[12]\/transactions\/consumption\/([^/]+)$/.exec(path))) {
    const tx = st.transactions.get(decodeURIComponent(m[1] ?? ''));
    if (!tx) return notFound();
    return tx.inAppOwnershipType === 'FAMILY_SHARED' ? familyRefused() : { status: 202 };
  }
  return { status: 404, body: { errorCode: 4040000, errorMessage: `no route ${method} ${path}` } };
}

function notificationHistory(url: URL, body: string, ctx: ApiContext): Answer {
  let q: { startDate?: unknown; endDate?: unknown; onlyFailures?: unknown; transactionId?: unknown; notificationType?: unknown; notificationSubtype?: unknown };
  try {
    q = JSON.parse(body) as typeof q;
  } catch {
    return badRequest(4000000, 'Bad request.');
  }
  if (typeof q.startDate !== 'number' || typeof q.endDate !== 'number' || q.endDate <= q.startDate) return badRequest(4000000, 'startDate and endDate are required; endDate after startDate.');
  const { startDate, endDate } = q;
  const customer = typeof q.transactionId === 'string' ? ctx.state.customerOf(q.transactionId) : undefined;
  if (customer === null) return notFound();
  const all = ctx.sender.history.filter(
    (h) =>
      h.sent.signedDate >= startDate &&
      h.sent.signedDate < endDate &&
      (customer === undefined || h.customer === customer) &&
      (q.onlyFailures !== true || !h.attempts.some((a) => a.sendAttemptResult === 'SUCCESS')) &&
      (typeof q.notificationType !== 'string' || h.sent.notificationType === q.notificationType) &&
      (typeof q.notificationSubtype !== 'string' || h.sent.subtype === q.notificationSubtype),
  );
  const token = url.searchParams.get('paginationToken');
  const from = token ? Number(Buffer.from(token, 'base64url').toString().replace(/^page:/, '')) : 0;
  if (!Number.isSafeInteger(from) || from < 0) return badRequest(4000014, 'Invalid pagination token.');
  const page = all.slice(from, from + HISTORY_PAGE_SIZE);
  const hasMore = from + page.length < all.length;
  return {
    status: 200,
    body: {
      notificationHistory: page.map((h) => ({ signedPayload: h.sent.signedPayload, sendAttempts: h.attempts })),
      hasMore,
      ...(hasMore ? { paginationToken: Buffer.from(`page:${from + page.length}`).toString('base64url') } : {}),
    },
  };
}

/** Null when the token is good; otherwise why not (logged nowhere: Apple's 401 carries no body). */
export function checkBearer(header: string | undefined, ctx: Pick<ApiContext, 'state' | 'key' | 'maxTokenLifetimeMs'>): string | null {
  const token = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(header ?? '');
  if (!token?.[1] || !token[2] || !token[3]) return 'no bearer token';
  let head: { alg?: unknown; kid?: unknown; typ?: unknown };
  let claims: { iss?: unknown; aud?: unknown; bid?: unknown; iat?: unknown; exp?: unknown };
  try {
    head = JSON.parse(Buffer.from(token[1], 'base64url').toString()) as typeof head;
    claims = JSON.parse(Buffer.from(token[2], 'base64url').toString()) as typeof claims;
  } catch {
    return 'malformed token';
  }
  if (head.alg !== 'ES256') return 'alg is not ES256';
  if (head.kid !== ctx.key.keyId) return 'unknown kid';
  const signed = verify('sha256', Buffer.from(`${token[1]}.${token[2]}`), { key: ctx.key.publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(token[3], 'base64url'));
  if (!signed) return 'bad signature';
  if (claims.aud !== 'appstoreconnect-v1') return 'wrong aud';
  if (claims.iss !== ctx.key.issuerId) return 'wrong iss';
  if (claims.bid !== ctx.state.bundleId) return 'wrong bid';
  // Tokens are minted with the real clock, whatever the emulator's clock says.
  const nowS = Date.now() / 1000;
  if (typeof claims.exp !== 'number' || claims.exp < nowS) return 'expired';
  if (typeof claims.iat !== 'number' || (claims.exp - claims.iat) * 1000 > ctx.maxTokenLifetimeMs) return 'lifetime too long';
  return null;
}
