import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { z } from 'zod';
import type { Config } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { parseBeijing } from '../../lib/time';
import { tokenForBearer } from '../auth';
import { BoardAccountBook } from '../board/board-accounts';
import { boardLogin } from '../board/board-login';
import type { LoginThrottle } from '../board/login-throttle';
import { sendError } from '../http-errors';
import { errorAnswer } from './openapi';

export interface OpsAccessDeps {
  config: Config;
  /** The dashboard's login throttle: a password guessed here counts as one guessed on the board. */
  throttle: LoginThrottle;
  log: Logger;
}

/** Answers 401/403 itself and returns false when the request may not read; true when it may. */
export type OpsAdmission = (request: FastifyRequest, reply: FastifyReply) => Promise<boolean>;

/** The 403 an ops read documents beside the Bearer 401. */
export const opsForbiddenAnswer = errorAnswer('the token\'s scope lacks ops, or the login is not an admin (`forbidden`)');

/**
 * Reads for ops: an API token whose scope holds `ops` (ops' own tooling, never a business client's),
 * or the dashboard admin's login (Basic, or single sign-on). `what` completes "may not …" in a refusal.
 */
export function opsAdmission(deps: OpsAccessDeps, what: string): OpsAdmission {
  const book = new BoardAccountBook(deps.config.board, deps.config.http.trustedProxies);
  return async (request, reply) => {
    if (/^Bearer\s/i.test(request.headers.authorization ?? '')) {
      const token = tokenForBearer(request.headers.authorization, deps.config.apiTokens);
      if (!token) {
        reply.header('www-authenticate', 'Bearer realm="jobhub"');
        sendError(reply, 401, { error: 'unauthorized', message: 'a valid Bearer token is required' });
        return false;
      }
      if (token.scope.ops) return true;
      sendError(reply, 403, { error: 'forbidden', message: `client ${token.client} may not ${what}: its token's scope (HUB_API_TOKENS) lacks ops` });
      return false;
    }
    const identity = await boardLogin(request, reply, { book, throttle: deps.throttle, log: deps.log });
    if (!identity) return false;
    if (identity.role === 'admin') return true;
    sendError(reply, 403, { error: 'forbidden', message: `the ${identity.role} role may not ${what}` });
    return false;
  };
}

/** A time in an ops read's query: RFC 3339 with its offset, or `YYYY-MM-DD[ HH:mm[:ss]]` read as Beijing time. */
export const queryInstant = z.string().transform((value, ctx) => {
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    const at = new Date(value);
    if (!Number.isNaN(at.getTime())) return at;
  }
  try {
    return parseBeijing(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected 2026-11-23T10:00:00+08:00, or 2026-11-23 10:00 read as Beijing time' });
    return z.NEVER;
  }
});

/** The field of a page that leads to the next one. */
export const nextBeforeField = z.string().nullable().describe('the `before` of the next page; null on the last');

/**
 * One page of an ops read, newest first by primary key: `before` is the previous page's
 * `nextBefore`. One row more than the page is read, so a full last page says it is the last.
 */
export async function newestFirstPage<T extends ObjectLiteral & { id: string }>(
  rows: SelectQueryBuilder<T>,
  page: { limit: number; before?: string | undefined },
): Promise<{ rows: T[]; nextBefore: string | null }> {
  const id = `${rows.alias}.id`;
  rows.orderBy(id, 'DESC').limit(page.limit + 1);
  if (page.before) rows.andWhere(`${id} < :before`, { before: page.before });
  const found = await rows.getMany();
  const shown = found.slice(0, page.limit);
  return { rows: shown, nextBefore: found.length > page.limit ? (shown.at(-1)?.id ?? null) : null };
}
