import type { FastifyInstance } from 'fastify';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import type { JobRegistry } from '../../jobs/define-job';
import { refundJobId } from '../../jobs/wechat-pay/request-refund';
import { exactKey } from '../../lib/exact-key';
import { QUEUE_NAMES, type QueueName } from '../../lib/queue-names';
import { describeIssues } from '../../lib/validation';
import type { QueueSet } from '../../workers/queues';
import { BOARD_PATH } from '../board/board.routes';
import { sendError, withRedisTimeout } from '../http-errors';
import { opsAdmission, opsForbiddenAnswer, type OpsAccessDeps } from './ops-access';
import { BEARER, bearerAnswers, documented, errorAnswer, unavailableAnswer } from './openapi';

export interface LookupRouteDeps extends OpsAccessDeps {
  db: DataSource;
  queues: QueueSet;
  registry: JobRegistry;
}

/** Job ids run to 512 characters (workers/enqueue.ts); business keys are shorter. */
const lookupQuery = z.strictObject({ key: z.string().min(1).max(512) });

const KINDS = ['job', 'refund', 'payment', 'delivery'] as const;
type Kind = (typeof KINDS)[number];

interface Match {
  kind: Kind;
  summary: string;
  links: { board?: string; api?: string };
  detail: Record<string, unknown>;
}

const matchView = z.object({
  kind: z.enum(KINDS),
  summary: z.string().describe('one line for people'),
  links: z.object({
    board: z.string().optional().describe('the job on the dashboard'),
    api: z.string().optional().describe('the record on this API'),
  }),
  detail: z.record(z.string(), z.unknown()).describe('the fields behind the summary; never a job\'s payload or a recipient'),
});
const lookupSchema = {
  summary: 'Find what the hub knows by a job id, out_refund_no, out_trade_no or message delivery key (ops)',
  tags: ['ops'],
  security: BEARER,
  querystring: lookupQuery,
  response: {
    200: z.object({ key: z.string(), matches: z.array(matchView) }).describe('every record the key names, jobs first'),
    400: errorAnswer('the query is invalid (`invalid_query`)'),
    ...bearerAnswers,
    403: opsForbiddenAnswer,
    404: errorAnswer('nothing the hub knows has this key (`not_found`)'),
    503: unavailableAnswer,
  },
};

/** Where the dashboard shows one job. */
export function boardJobPath(queue: string, id: string): string {
  return `${BOARD_PATH}/queue/${encodeURIComponent(queue)}/${encodeURIComponent(id)}`;
}

const refundApiPath = (outRefundNo: string): string => `/api/v1/refunds/${encodeURIComponent(outRefundNo)}`;
const iso = (at: Date | null): string | null => (at ? at.toISOString() : null);

async function jobMatches(queues: QueueSet, key: string): Promise<Match[]> {
  const found = await Promise.all(
    QUEUE_NAMES.map(async (queue): Promise<Match | null> => {
      const job = await withRedisTimeout(queues.get(queue).getJob(key));
      if (!job) return null;
      const state = await withRedisTimeout(job.getState());
      return {
        kind: 'job',
        summary: `job ${job.name} on queue ${queue}: ${state}`,
        links: { board: boardJobPath(queue, key) },
        detail: { id: key, queue, name: job.name, state, attemptsMade: job.attemptsMade, failedReason: job.failedReason ?? null, createdAt: new Date(job.timestamp).toISOString() },
      };
    }),
  );
  return found.filter((m): m is Match => m !== null);
}

function refundMatch(r: RefundOrder, boardJob: string | null): Match {
  return {
    kind: 'refund',
    summary: `refund ${r.outRefundNo} of payment ${r.outTradeNo}: ${r.amount} fen, ${r.status}`,
    links: { api: refundApiPath(r.outRefundNo), ...(boardJob ? { board: boardJob } : {}) },
    detail: { refundOrderId: r.id, outRefundNo: r.outRefundNo, outTradeNo: r.outTradeNo, amount: r.amount, status: r.status, wechatStatus: r.wechatStatus, createdTime: iso(r.createdTime) },
  };
}

/**
 * `GET /api/v1/lookup?key=`: one box for ops. The key is tried as a BullMQ job id in every queue,
 * an out_refund_no, an out_trade_no (with the payment's refunds) and a message delivery key;
 * every hit is answered, since one string can be several of these at once.
 */
export function registerLookupRoutes(app: FastifyInstance, deps: LookupRouteDeps): void {
  const admitted = opsAdmission(deps, 'look records up');

  async function refundMatches(key: string): Promise<Match[]> {
    const row = await deps.db.getRepository(RefundOrder).createQueryBuilder('r').where(exactKey('r.out_refund_no', 'key'), { key }).getOne();
    if (!row) return [];
    // The submit job is named by the refund (one per refund ever): linked while Redis still holds it.
    const jobId = refundJobId(row.outRefundNo);
    const job = await withRedisTimeout(deps.queues.get('refunds').getJob(jobId));
    return [refundMatch(row, job ? boardJobPath('refunds', jobId) : null)];
  }

  async function paymentMatches(key: string): Promise<Match[]> {
    const payment = await deps.db.getRepository(PaymentOrder).createQueryBuilder('p').where(exactKey('p.out_trade_no', 'key'), { key }).getOne();
    const refunds = await deps.db.getRepository(RefundOrder).createQueryBuilder('r').where(exactKey('r.out_trade_no', 'key'), { key }).orderBy('r.id', 'ASC').getMany();
    // A refund of an app order (android_order) names its out_trade_no without a payment_order row.
    if (!payment && refunds.length === 0) return [];
    const refunded = refunds.map((r) => ({ outRefundNo: r.outRefundNo, amount: r.amount, status: r.status, api: refundApiPath(r.outRefundNo) }));
    const what = payment ? `payment ${key}: ${payment.amount} fen, ${payment.payStatus}` : `payment ${key} (no payment_order row)`;
    return [
      {
        kind: 'payment',
        summary: `${what}; ${refunds.length} refund${refunds.length === 1 ? '' : 's'}`,
        links: {},
        detail: {
          paymentOrderId: payment?.id ?? null,
          outTradeNo: key,
          businessType: payment?.businessType ?? null,
          mchid: payment?.mchid ?? null,
          amount: payment?.amount ?? null,
          payStatus: payment?.payStatus ?? null,
          tradeState: payment?.tradeState ?? null,
          successTime: iso(payment?.successTime ?? null),
          refundedAmount: payment?.refundedAmount ?? null,
          refunds: refunded,
        },
      },
    ];
  }

  async function deliveryMatches(key: string): Promise<Match[]> {
    const row = await deps.db.getRepository(HubMessageDelivery).createQueryBuilder('d').where(exactKey('d.delivery_key', 'key'), { key }).getOne();
    if (!row) return [];
    const queue: QueueName | undefined = deps.registry.get(row.jobName)?.queue;
    return [
      {
        kind: 'delivery',
        summary: `${row.channel} delivery ${row.deliveryKey}: ${row.status}${row.receiptStatus ? ` (receipt ${row.receiptStatus})` : ''}`,
        links: row.jobId && queue ? { board: boardJobPath(queue, row.jobId) } : {},
        detail: {
          deliveryId: row.id,
          channel: row.channel,
          status: row.status,
          jobName: row.jobName,
          jobId: row.jobId,
          provider: row.provider,
          providerMessageId: row.providerMessageId,
          attempts: row.attempts,
          errorCode: row.errorCode,
          receiptStatus: row.receiptStatus,
          sentTime: iso(row.sentTime),
          createdTime: iso(row.createdTime),
        },
      },
    ];
  }

  app.get('/api/v1/lookup', documented(lookupSchema), async (request, reply) => {
    if (!(await admitted(request, reply))) return reply;
    const query = lookupQuery.safeParse(request.query);
    if (!query.success) return sendError(reply, 400, { error: 'invalid_query', message: 'invalid query', fields: describeIssues(query.error, '(query)') });
    const { key } = query.data;
    const found = await Promise.all([jobMatches(deps.queues, key), refundMatches(key), paymentMatches(key), deliveryMatches(key)]);
    const matches = found.flat();
    if (matches.length === 0) return sendError(reply, 404, { error: 'not_found', message: `the hub knows nothing by ${JSON.stringify(key)}` });
    return { key, matches };
  });
}
