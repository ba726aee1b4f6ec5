import type { FastifyInstance } from 'fastify';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { HubAlert } from '../../entities/hub/hub-alert.entity';
import { describeIssues } from '../../lib/validation';
import { sendError } from '../http-errors';
import { BEARER, bearerAnswers, documented, errorAnswer, unavailableAnswer } from './openapi';
import { newestFirstPage, nextBeforeField, opsAdmission, opsForbiddenAnswer, queryInstant, type OpsAccessDeps } from './ops-access';

export interface AlertRouteDeps extends OpsAccessDeps {
  db: DataSource;
}

export const ALERTS_MAX_LIMIT = 500;

const alertsQuery = z.strictObject({
  kind: z.string().min(1).max(64).optional().describe('one kind, as in `jobhub_alerts_total{kind}`: `refund-failed`, `reconciliation-discrepancies`…'),
  since: queryInstant.optional().describe('raised at or after; RFC 3339, or `YYYY-MM-DD HH:mm` read as Beijing time'),
  until: queryInstant.optional().describe('raised before; same forms as since'),
  limit: z.coerce.number().int().min(1).max(ALERTS_MAX_LIMIT).default(100),
  before: z.string().regex(/^\d{1,20}$/, 'expected the id of an alert (digits)').optional(),
});

const alertView = z.object({
  id: z.string(),
  raisedAt: z.string().describe('ISO 8601'),
  kind: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).nullable().describe('masked as the logs are, cut to about 2,000 characters of JSON'),
  jobName: z.string().nullable().describe('the job that raised it; null for the failed-jobs watch'),
  jobId: z.string().nullable(),
});
type AlertView = z.infer<typeof alertView>;

const alertsSchema = {
  summary: 'Read recent alerts, newest first (ops: a token scoped ops, or the dashboard admin\'s login)',
  tags: ['alerts'],
  security: BEARER,
  querystring: alertsQuery,
  response: {
    200: z.object({ alerts: z.array(alertView), nextBefore: nextBeforeField }).describe('a page of alerts'),
    400: errorAnswer('the query is invalid (`invalid_query`)'),
    ...bearerAnswers,
    403: opsForbiddenAnswer,
    503: unavailableAnswer,
  },
};

export function viewAlert(row: HubAlert): AlertView {
  return { id: row.id, raisedAt: row.raisedAt.toISOString(), kind: row.kind, message: row.message, details: row.details, jobName: row.jobName, jobId: row.jobId };
}

/**
 * `GET /api/v1/alerts`: the hub_alert rows, for ops only, newest first, paged by id (`before` is the
 * `nextBefore` of the previous page). The mail reaches ops once an hour per subject; this is the rest.
 */
export function registerAlertRoutes(app: FastifyInstance, deps: AlertRouteDeps): void {
  const admitted = opsAdmission(deps, 'read alerts');
  app.get('/api/v1/alerts', documented(alertsSchema), async (request, reply) => {
    if (!(await admitted(request, reply))) return reply;
    const query = alertsQuery.safeParse(request.query);
    if (!query.success) return sendError(reply, 400, { error: 'invalid_query', message: 'invalid query', fields: describeIssues(query.error, '(query)') });
    const { kind, since, until, limit, before } = query.data;
    const rows = deps.db.getRepository(HubAlert).createQueryBuilder('a');
    if (kind) rows.andWhere('a.kind = :kind', { kind });
    if (since) rows.andWhere('a.raised_at >= :since', { since });
    if (until) rows.andWhere('a.raised_at < :until', { until });
    const page = await newestFirstPage(rows, { limit, before });
    return { alerts: page.rows.map(viewAlert), nextBefore: page.nextBefore };
  });
}
