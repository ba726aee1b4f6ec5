import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiToken, BoardAccount } from '../lib/config';

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Compares digests, so neither the content nor the length of a secret leaks through timing. */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

/** Each configured token's digest, made once: every API request compares against all of them. */
const tokenDigests = new WeakMap<ApiToken, Buffer>();
function digestOfToken(token: ApiToken): Buffer {
  let digest = tokenDigests.get(token);
  if (!digest) tokenDigests.set(token, (digest = sha256(token.token)));
  return digest;
}

/** The token of a `Bearer` header, or null. Every token is compared, matched or not. */
export function tokenForBearer<T extends ApiToken>(header: string | undefined, tokens: readonly T[]): T | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const given = match?.[1];
  if (!given) return null;
  const givenDigest = sha256(given);
  let found: T | null = null;
  for (const token of tokens) {
    if (timingSafeEqual(givenDigest, digestOfToken(token))) found = token;
  }
  return found;
}

/** The client a `Bearer` header belongs to, or null. */
export function clientForBearer(header: string | undefined, tokens: readonly ApiToken[]): string | null {
  return tokenForBearer(header, tokens)?.client ?? null;
}

export type BoardRole = 'admin' | 'viewer';

/** The user name and password of an HTTP Basic `Authorization` header, or null when it is not one. */
export function basicCredentials(header: string | undefined): { username: string; password: string } | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The dashboard role of an HTTP Basic `Authorization` header, or null. */
export function boardRoleForBasic(
  header: string | undefined,
  accounts: { admin: BoardAccount; viewer: BoardAccount | null },
): BoardRole | null {
  const credentials = basicCredentials(header);
  if (!credentials) return null;
  const { username, password } = credentials;
  const isAdmin = accountMatches(username, password, accounts.admin);
  const isViewer = accounts.viewer !== null && accountMatches(username, password, accounts.viewer);
  if (isAdmin) return 'admin';
  return isViewer ? 'viewer' : null;
}

function accountMatches(username: string, password: string, account: BoardAccount): boolean {
  // Both halves are always compared: no early exit on a wrong username.
  const user = secretsEqual(username, account.username);
  const pass = secretsEqual(password, account.password);
  return user && pass;
}

/**
 * A write must come from a page of the dashboard's own origin: browsers send `Origin` on every
 * non-GET fetch, so a missing or foreign one is refused (CSRF). Behind a proxy that rewrites the
 * host or ends TLS, `publicUrl` (HUB_PUBLIC_URL) is the origin browsers see; otherwise the origin's
 * host must be the request's `Host`.
 */
export function isSameOrigin(origin: string | undefined, host: string | undefined, publicUrl: string | null): boolean {
  if (!origin) return false;
  try {
    const from = new URL(origin);
    if (publicUrl) return from.origin === new URL(publicUrl).origin;
    return host !== undefined && from.host === host;
  } catch {
    return false;
  }
}
