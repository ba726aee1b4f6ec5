import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { HubAudit } from '../../entities/hub/hub-audit.entity';
import type { Config } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { parseBeijing } from '../../lib/time';
import { describeIssues } from '../../lib/validation';
import { tokenForBearer } from '../auth';
import { BoardAccountBook } from '../board/board-accounts';
import { boardLogin } from '../board/board-login';
import type { LoginThrottle } from '../board/login-throttle';
import { sendError } from '../http-errors';
import { BEARER, bearerAnswers, documented, errorAnswer, unavailableAnswer } from './openapi';

export interface AuditRouteDeps {
  db: DataSource;
  config: Config;
  /** The dashboard's login throttle: a password guessed here counts as one guessed on the board. */
  throttle: LoginThrottle;
  log: Logger;
}

export const AUDIT_MAX_LIMIT = 500;

/** An instant: RFC 3339 with its offset, or `YYYY-MM-DD[ HH:mm[:ss]]` read as Beijing time. */
const instant = z.string().transform((value, ctx) => {
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    const at = new Date(value);
    if (!Number.isNaN(at.getTime())) return at;
  }
  try {
    return parseBeijing(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'expected 2026-11-23T10:00:00+08:00, or 2026-11-23 10:00:00 read as Beijing time' });
    return z.NEVER;
  }
});

const auditQuery = z.strictObject({
  since: instant.optional(),
  until: instant.optional(),
  who: z.string().min(1).max(200).optional(),
  action: z.string().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(AUDIT_MAX_LIMIT).default(100),
  before: z.string().regex(/^\d{1,20}$/, 'expected the id of an entry (digits)').optional(),
});

const entryView = z.object({
  id: z.string(),
  occurredAt: z.string().describe('ISO 8601'),
  actor: z.string().describe('the person or API client; `(anonymous)` when a refused request named nobody'),
  actorKind: z.enum(['board', 'api', 'cli']),
  role: z.string().nullable().describe('the dashboard role, or the token\'s scope'),
  action: z.string().describe('`job.retry`, `queue.pause`, `job.enqueue`, `refund.request`…'),
  queue: z.string().nullable(),
  jobIds: z.array(z.string()).nullable(),
  businessKey: z.string().nullable().describe('out_refund_no, out_trade_no or the Idempotency-Key'),
  sourceAddress: z.string().nullable(),
  outcome: z.enum(['ok', 'failed', 'refused']),
  statusCode: z.number().int().nullable(),
  detail: z.record(z.string(), z.unknown()).nullable().describe('the answer, masked and cut to about 2,000 characters'),
});
const auditSchema = {
  summary: 'Read the audit of writes, newest first (admins: a token scoped ops, or the dashboard admin\'s login)',
  tags: ['audit'],
  security: BEARER,
  querystring: auditQuery,
  response: {
    200: z.object({ entries: z.array(entryView), nextBefore: z.string().nullable().describe('the `before` of the next page; null on the last') }).describe('a page of audit entries'),
    400: errorAnswer('the query is invalid (`invalid_query`)'),
    ...bearerAnswers,
    403: errorAnswer('the token\'s scope lacks ops, or the login is not an admin (`forbidden`)'),
    503: unavailableAnswer,
  },
};

function view(row: HubAudit): Record<string, unknown> {
  return {
    id: row.id,
    occurredAt: row.occurredAt.toISOString(),
    actor: row.actor,
    actorKind: row.actorKind,
    role: row.role,
    action: row.action,
    queue: row.queue,
    jobIds: row.jobIds,
    businessKey: row.businessKey,
    sourceAddress: row.sourceAddress,
    outcome: row.outcome,
    statusCode: row.statusCode,
    detail: row.detail,
  };
}

/**
 * `GET /api/v1/audit`, for admins only: an API token whose scope holds `ops` (the scope of ops' own
 * tooling, never a business client's), or the dashboard admin's login (Basic, or single sign-on).
 * Newest first, paged by id: `before` is the `nextBefore` of the previous page.
 */
export function registerAuditRoutes(app: FastifyInstance, deps: AuditRouteDeps): void {
  const book = new BoardAccountBook(deps.config.board, deps.config.http.trustedProxies);

  async function admitted(request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    if (/^Bearer\s/i.test(request.headers.authorization ?? '')) {
      const token = tokenForBearer(request.headers.authorization, deps.config.apiTokens);
      if (!token) {
        reply.header('www-authenticate', 'Bearer realm="jobhub"');
        sendError(reply, 401, { error: 'unauthorized', message: 'a valid Bearer token is required' });
        return false;
      }
      if (token.scope.ops) return true;
      sendError(reply, 403, { error: 'forbidden', message: `client ${token.client} may not read the audit: its token's scope (HUB_API_TOKENS) lacks ops` });
      return false;
    }
    const identity = await boardLogin(request, reply, { book, throttle: deps.throttle, log: deps.log });
    if (!identity) return false;
    if (identity.role === 'admin') return true;
    sendError(reply, 403, { error: 'forbidden', message: `the ${identity.role} role may not read the audit` });
    return false;
  }

  app.get('/api/v1/audit', documented(auditSchema), async (request, reply) => {
    if (!(await admitted(request, reply))) return reply;
    const query = auditQuery.safeParse(request.query);
    if (!query.success) return sendError(reply, 400, { error: 'invalid_query', message: 'invalid query', fields: describeIssues(query.error, '(query)') });
    const { since, until, who, action, limit, before } = query.data;
    const rows = deps.db.getRepository(HubAudit).createQueryBuilder('a').orderBy('a.id', 'DESC').limit(limit);
    if (since) rows.andWhere('a.occurred_at >= :since', { since });
    if (until) rows.andWhere('a.occurred_at < :until', { until });
    if (who) rows.andWhere('a.actor = :who', { who });
    if (action) rows.andWhere('a.action = :action', { action });
    if (before) rows.andWhere('a.id < :before', { before });
    const found = await rows.getMany();
    const last = found.at(-1);
    return { entries: found.map(view), nextBefore: found.length === limit && last ? last.id : null };
  });
}
