import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../../lib/logger';
import { boardLoginFailures } from '../../lib/metrics';
import { basicCredentials } from '../auth';
import type { BoardAccountBook, BoardIdentity } from './board-accounts';
import { isRedisUnavailable, sendError } from '../http-errors';
import type { LoginThrottle } from './login-throttle';

export interface BoardLoginDeps {
  book: BoardAccountBook;
  throttle: LoginThrottle;
  log: Logger;
}

/** A client may send a name of any length: its first characters name its counter and its log lines. */
const LOGGED_NAME_CHARS = 64;

/**
 * Who is behind a dashboard request: the single sign-on header from a trusted proxy, else HTTP Basic
 * credentials (the env accounts or HUB_USERS_FILE's). Null once the request has been answered 401
 * (no or wrong credentials), 403 (a signed-in name without a role), 429 (too many failures for the
 * name or the address, the right password included, or guessing would go on) or 503 (Redis, which
 * keeps the count, unreachable).
 */
export async function boardLogin(request: FastifyRequest, reply: FastifyReply, deps: BoardLoginDeps): Promise<BoardIdentity | null> {
  const viaProxy = deps.book.forProxyHeader(request.headers, request.socket.remoteAddress);
  if (viaProxy === null) {
    deps.log.warn({ ip: request.socket.remoteAddress, reason: 'no_role' }, 'dashboard login refused: the signed-in name has no role (HUB_TRUSTED_ROLES)');
    sendError(reply, 403, { error: 'forbidden', message: 'the signed-in user has no dashboard role (HUB_TRUSTED_ROLES)' });
    return null;
  }
  if (viaProxy) return viaProxy;
  const header = request.headers.authorization;
  // A browser asks without credentials first, then shows its login prompt: nothing guessed, nothing counted.
  if (header === undefined) return challenge(reply);
  const username = basicCredentials(header)?.username.slice(0, LOGGED_NAME_CHARS) ?? null;
  const address = request.ip;
  try {
    // A locked name of the users file is refused before scrypt runs: guessing must not cost the server a hash each.
    if (deps.book.needsHashing(header)) {
      const lockedS = await deps.throttle.lockedFor(username, address);
      if (lockedS !== null) return throttled(reply, deps.log, { username, address, retryAfterS: lockedS });
    }
    const identity = await deps.book.forBasic(header);
    if (!identity) {
      const { failures, retryAfterS } = await deps.throttle.recordFailure(username, address);
      if (retryAfterS !== null) return throttled(reply, deps.log, { username, address, retryAfterS });
      boardLoginFailures.inc({ reason: 'bad_credentials' });
      deps.log.warn({ username, ip: address, reason: 'bad_credentials', failures }, 'dashboard login failed');
      return challenge(reply);
    }
    const retryAfterS = await deps.throttle.lockedFor(username, address);
    if (retryAfterS !== null) return throttled(reply, deps.log, { username, address, retryAfterS });
    return identity;
  } catch (err) {
    if (!isRedisUnavailable(err)) throw err;
    // Fail closed: without the count every guess would go through, and the dashboard shows nothing without Redis anyway.
    deps.log.warn({ err, username, ip: address }, 'dashboard login not checked: redis unavailable');
    reply.header('retry-after', '5');
    sendError(reply, 503, { error: 'queue_unavailable', message: 'the queue store (Redis) is unavailable; retry later' });
    return null;
  }
}

function challenge(reply: FastifyReply): null {
  reply.header('www-authenticate', 'Basic realm="jobhub board", charset="UTF-8"');
  sendError(reply, 401, { error: 'unauthorized', message: 'dashboard credentials required' });
  return null;
}

function throttled(reply: FastifyReply, log: Logger, at: { username: string | null; address: string; retryAfterS: number }): null {
  boardLoginFailures.inc({ reason: 'throttled' });
  log.warn({ username: at.username, ip: at.address, reason: 'throttled', retryAfterS: at.retryAfterS }, 'dashboard login failed');
  reply.header('retry-after', String(at.retryAfterS));
  sendError(reply, 429, {
    error: 'too_many_login_failures',
    message: `too many failed dashboard logins for this user name or address; retry in ${at.retryAfterS} s`,
    retryAfterS: at.retryAfterS,
  });
  return null;
}
