import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiToken, BoardAccount } from '../lib/config';

/** Compares digests, so neither the content nor the length of a secret leaks through timing. */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The client a `Bearer` header belongs to, or null. Every token is compared, matched or not. */
export function clientForBearer(header: string | undefined, tokens: readonly ApiToken[]): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const given = match?.[1];
  if (!given) return null;
  let client: string | null = null;
  for (const token of tokens) {
    if (secretsEqual(given, token.token)) client = token.client;
  }
  return client;
}

export type BoardRole = 'admin' | 'viewer';

/** The dashboard role of an HTTP Basic `Authorization` header, or null. */
export function boardRoleForBasic(
  header: string | undefined,
  accounts: { admin: BoardAccount; viewer: BoardAccount | null },
): BoardRole | null {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
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
