import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { enqueueRefundSubmit, refundRequestFields, requestRefund, RefundRefusedError, viewRefund, type RefundView } from '../../jobs/wechat-pay/request-refund';
import { auditAt } from '../../entities/dms/audit';
import type { ApiToken } from '../../lib/config';
import { exactKey } from '../../lib/exact-key';
import type { Logger } from '../../lib/logger';
import { describeIssues, idempotencyKeySchema } from '../../lib/validation';
import { createEnqueue } from '../../workers/enqueue';
import type { QueueSet } from '../../workers/queues';
import { clientForBearer } from '../auth';
import { isRedisUnavailable, sendError, withRedisTimeout } from '../http-errors';
import { BEARER, bearerAnswers, documented, errorAnswer, tooLargeAnswer, unavailableAnswer } from './openapi';

export interface RefundRouteDeps {
  db: DataSource;
  queues: QueueSet;
  apiTokens: readonly ApiToken[];
  log: Logger;
  now: () => Date;
}


const refundBody = z
  .strictObject({
    outTradeNo: refundRequestFields.outTradeNo.optional(),
    paymentOrderId: z.string().regex(/^\d{1,19}$/, 'expected the payment_order id (digits)').optional(),
    amount: refundRequestFields.amount,
    reason: refundRequestFields.reason.optional(),
  })
  .refine((b) => (b.outTradeNo === undefined) !== (b.paymentOrderId === undefined), {
    message: 'exactly one of outTradeNo and paymentOrderId is required',
    path: ['outTradeNo'],
  });

export const refundStatus = z.enum(['REFUNDING', 'REFUNDED', 'REFUND_FAILED']);
const acceptedBody = z.object({ refundOrderId: z.string(), outRefundNo: z.string(), outTradeNo: z.string(), status: refundStatus, amount: z.number().int() });
const requestSchema = {
  summary: 'Request a refund',
  description: 'Records the refund (rules checked, row written), then queues its submission to WeChat Pay; GET /api/v1/refunds/{outRefundNo} follows it to REFUNDED or REFUND_FAILED. Amounts are integer fen.',
  tags: ['refunds'],
  security: BEARER,
  headers: z.object({ 'idempotency-key': idempotencyKeySchema.describe('required: the same key from the same client names the same refund') }),
  body: refundBody,
  response: {
    202: acceptedBody.meta({
      description: 'accepted (or, for a key already seen with the same request, the same refund again)',
      headers: { 'idempotent-replayed': { type: 'string', enum: ['true'], description: 'set when this is a replay' } },
    }),
    400: errorAnswer('the Idempotency-Key (`invalid_idempotency_key`) or the body (`invalid_body`, `INVALID_REFUND_REQUEST`) is invalid'),
    ...bearerAnswers,
    404: errorAnswer('no such payment (`PAYMENT_NOT_FOUND`)'),
    409: errorAnswer('the Idempotency-Key already requested a refund of another payment or amount (`IDEMPOTENCY_KEY_REUSED`)'),
    413: tooLargeAnswer,
    422: errorAnswer('WeChat\'s rules refuse it: `PAYMENT_NOT_PAID`, `PAYMENT_TOO_OLD`, `REFUND_EXCEEDS_PAID`, `TOO_MANY_REFUNDS`'),
    503: errorAnswer(
      'MySQL is unreachable (`database_unavailable`, `database_busy`: nothing was recorded), or Redis is (`queue_unavailable`: the refund is recorded, its fields are in the body, and it is submitted later); repeat the request with the same key after Retry-After seconds',
      { 'retry-after': { type: 'string', description: 'seconds to wait' } },
    ),
  },
};
/** A refund as every refund route answers it. */
export const refundView = z.object({
  refundOrderId: z.string(),
  outRefundNo: z.string(),
  outTradeNo: z.string(),
  paymentOrderId: z.string().nullable(),
  businessType: z.enum(['EVENT', 'GROUP_BUY', 'MALL', 'APP']),
  amount: z.number().int().describe('fen'),
  total: z.number().int().describe('the payment\'s total, fen'),
  reason: z.string().nullable(),
  status: refundStatus.describe('REFUNDING, then REFUNDED or REFUND_FAILED'),
  wechatStatus: z.string().nullable(),
  refundId: z.string().nullable(),
  successTime: z.string().nullable().describe('ISO 8601'),
  failReason: z.string().nullable(),
  createdTime: z.string().describe('ISO 8601'),
});
const viewSchema = {
  summary: 'Read a refund',
  tags: ['refunds'],
  security: BEARER,
  params: z.object({ outRefundNo: z.string() }),
  response: { 200: refundView.describe('the refund'), ...bearerAnswers, 404: errorAnswer('no such refund (`REFUND_NOT_FOUND`)'), 503: unavailableAnswer },
};

/** What a caller keeps of a refund request: the same fields on every answer to the same request. */
function accepted(r: RefundView): Record<string, unknown> {
  return { refundOrderId: r.refundOrderId, outRefundNo: r.outRefundNo, outTradeNo: r.outTradeNo, status: r.status, amount: r.amount };
}

/**
 * Refunds over the API, behind the jobs API's Bearer tokens: the request is recorded (rules checked,
 * row written) before anything is queued, so a queue outage loses nothing; the answer says the
 * refund was accepted, and `GET /api/v1/refunds/:outRefundNo` follows it to REFUNDED or REFUND_FAILED.
 */
export function registerRefundRoutes(app: FastifyInstance, deps: RefundRouteDeps): void {
  const enqueue = createEnqueue(deps.queues);
  const requestDeps = { db: deps.db, log: deps.log, now: deps.now, audit: auditAt(deps.now) };
  const clients = new WeakMap<FastifyRequest, string>();

  void app.register(async (api) => {
    api.addHook('onRequest', async (request, reply) => {
      const client = clientForBearer(request.headers.authorization, deps.apiTokens);
      if (!client) {
        reply.header('www-authenticate', 'Bearer realm="jobhub"');
        return sendError(reply, 401, { error: 'unauthorized', message: 'a valid Bearer token is required' });
      }
      clients.set(request, client);
    });

    api.post('/api/v1/refunds', documented(requestSchema), async (request, reply) => {
      const header = request.headers['idempotency-key'];
      const key = idempotencyKeySchema.safeParse(Array.isArray(header) ? header.join(',') : header);
      if (!key.success) {
        return sendError(reply, 400, { error: 'invalid_idempotency_key', message: 'an Idempotency-Key header is required', fields: describeIssues(key.error, 'Idempotency-Key') });
      }
      const body = refundBody.safeParse(request.body ?? {});
      if (!body.success) return sendError(reply, 400, { error: 'invalid_body', message: 'invalid refund request', fields: describeIssues(body.error, '(body)') });
      const client = clients.get(request) ?? '';
      let outcome: Awaited<ReturnType<typeof requestRefund>>;
      try {
        outcome = await requestRefund(requestDeps, { client, idempotencyKey: key.data, ...body.data });
      } catch (err) {
        if (err instanceof RefundRefusedError) return sendError(reply, err.httpStatus, { error: err.code, message: err.message });
        throw err;
      }
      const { refund, created } = outcome;
      if (!created) reply.header('idempotent-replayed', 'true');
      // A replay enqueues too: it heals a first answer that was a 503 (the job id makes it a no-op otherwise).
      if (refund.status === 'REFUNDING' && refund.wechatStatus === null) {
        const queued = await queueSubmit(reply, refund, deps.log);
        if (queued) return queued;
      }
      if (created) deps.log.info({ outRefundNo: refund.outRefundNo, client }, 'refund accepted over the API');
      return reply.code(202).send(accepted(refund));
    });

    api.get<{ Params: { outRefundNo: string } }>('/api/v1/refunds/:outRefundNo', documented(viewSchema), async (request, reply) => {
      // Exactly the number given: the column's collation would also find it in another case or with trailing spaces.
      const row = await deps.db
        .getRepository(RefundOrder)
        .createQueryBuilder('r')
        .where(exactKey('r.out_refund_no', 'outRefundNo'), { outRefundNo: request.params.outRefundNo })
        .getOne();
      if (!row) return sendError(reply, 404, { error: 'REFUND_NOT_FOUND', message: `no refund ${request.params.outRefundNo}` });
      return viewRefund(row);
    });
  });

  /** The refund is recorded whatever happens here: on a Redis outage the sweeper enqueues it later. */
  async function queueSubmit(reply: FastifyReply, refund: RefundView, log: Logger): Promise<FastifyReply | null> {
    try {
      await withRedisTimeout(enqueueRefundSubmit(enqueue, refund.outRefundNo));
      return null;
    } catch (err) {
      if (!isRedisUnavailable(err)) throw err;
      log.warn({ err, outRefundNo: refund.outRefundNo }, 'refund recorded, its submission not queued: the sweeper queues it');
      reply.header('retry-after', '5');
      return sendError(reply, 503, {
        error: 'queue_unavailable',
        message: 'the refund is recorded but could not be queued (Redis unavailable); it is submitted later, or repeat the request',
        ...accepted(refund),
      });
    }
  }
}
