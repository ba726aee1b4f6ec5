import type { FastifyInstance } from 'fastify';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { viewRefund } from '../../jobs/wechat-pay/request-refund';
import { exactKey } from '../../lib/exact-key';
import { describeIssues } from '../../lib/validation';
import { sendError } from '../http-errors';
import { newestFirstPage, nextBeforeField, opsAdmission, opsForbiddenAnswer, queryInstant, type OpsAccessDeps } from './ops-access';
import { BEARER, bearerAnswers, documented, errorAnswer, unavailableAnswer } from './openapi';
import { refundStatus, refundView } from './refunds.routes';

export interface RefundListRouteDeps extends OpsAccessDeps {
  db: DataSource;
}

export const REFUNDS_MAX_LIMIT = 200;


const listQuery = z.strictObject({
  status: refundStatus.optional(),
  outTradeNo: z.string().min(1).max(64).optional(),
  outRefundNo: z.string().min(1).max(64).optional(),
  since: queryInstant.optional().describe('created at or after; RFC 3339, or `YYYY-MM-DD HH:mm` read as Beijing time'),
  until: queryInstant.optional().describe('created before; same forms as since'),
  limit: z.coerce.number().int().min(1).max(REFUNDS_MAX_LIMIT).default(50),
  before: z.string().regex(/^\d{1,20}$/, 'expected the refundOrderId of a refund (digits)').optional(),
});


const listSchema = {
  summary: 'List refunds, newest first (ops: a token scoped ops, or the dashboard admin\'s login)',
  tags: ['refunds'],
  security: BEARER,
  querystring: listQuery,
  response: {
    200: z.object({ refunds: z.array(refundView), nextBefore: nextBeforeField }).describe('a page of refunds'),
    400: errorAnswer('the query is invalid (`invalid_query`)'),
    ...bearerAnswers,
    403: opsForbiddenAnswer,
    503: unavailableAnswer,
  },
};

/**
 * `GET /api/v1/refunds`: refund_order rows for ops, newest first, paged by id (`before` is the
 * `nextBefore` of the previous page). Business clients follow their own refunds by number instead.
 */
export function registerRefundListRoutes(app: FastifyInstance, deps: RefundListRouteDeps): void {
  const admitted = opsAdmission(deps, 'list refunds');
  app.get('/api/v1/refunds', documented(listSchema), async (request, reply) => {
    if (!(await admitted(request, reply))) return reply;
    const query = listQuery.safeParse(request.query);
    if (!query.success) return sendError(reply, 400, { error: 'invalid_query', message: 'invalid query', fields: describeIssues(query.error, '(query)') });
    const { status, outTradeNo, outRefundNo, since, until, limit, before } = query.data;
    const rows = deps.db.getRepository(RefundOrder).createQueryBuilder('r');
    if (status) rows.andWhere('r.status = :status', { status });
    if (outTradeNo) rows.andWhere(exactKey('r.out_trade_no', 'outTradeNo'), { outTradeNo });
    if (outRefundNo) rows.andWhere(exactKey('r.out_refund_no', 'outRefundNo'), { outRefundNo });
    if (since) rows.andWhere('r.created_time >= :since', { since });
    if (until) rows.andWhere('r.created_time < :until', { until });
    const page = await newestFirstPage(rows, { limit, before });
    return { refunds: page.rows.map(viewRefund), nextBefore: page.nextBefore };
  });
}
