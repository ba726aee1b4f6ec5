import type { FastifyInstance } from 'fastify';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { HubAudit } from '../../entities/hub/hub-audit.entity';
import { describeIssues } from '../../lib/validation';
import { sendError } from '../http-errors';
import { BEARER, bearerAnswers, documented, errorAnswer, unavailableAnswer } from './openapi';
import { newestFirstPage, nextBeforeField, opsAdmission, opsForbiddenAnswer, queryInstant, type OpsAccessDeps } from './ops-access';

export interface AuditRouteDeps extends OpsAccessDeps {
  db: DataSource;
}

export const AUDIT_MAX_LIMIT = 500;

const auditQuery = z.strictObject({
  since: queryInstant.optional(),
  until: queryInstant.optional(),
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
    200: z.object({ entries: z.array(entryView), nextBefore: nextBeforeField }).describe('a page of audit entries'),
    400: errorAnswer('the query is invalid (`invalid_query`)'),
    ...bearerAnswers,
    403: opsForbiddenAnswer,
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
  const admitted = opsAdmission(deps, 'read the audit');

  app.get('/api/v1/audit', documented(auditSchema), async (request, reply) => {
    if (!(await admitted(request, reply))) return reply;
    const query = auditQuery.safeParse(request.query);
    if (!query.success) return sendError(reply, 400, { error: 'invalid_query', message: 'invalid query', fields: describeIssues(query.error, '(query)') });
    const { since, until, who, action, limit, before } = query.data;
    const rows = deps.db.getRepository(HubAudit).createQueryBuilder('a');
    if (since) rows.andWhere('a.occurred_at >= :since', { since });
    if (until) rows.andWhere('a.occurred_at < :until', { until });
    if (who) rows.andWhere('a.actor = :who', { who });
    if (action) rows.andWhere('a.action = :action', { action });
    const page = await newestFirstPage(rows, { limit, before });
    return { entries: page.rows.map(view), nextBefore: page.nextBefore };
  });
}
