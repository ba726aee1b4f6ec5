import type { FastifyInstance, FastifyReply } from 'fastify';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import { HubReconciliationItem, RECONCILIATION_KINDS } from '../../entities/hub/hub-reconciliation-item.entity';
import { HubReconciliationRun } from '../../entities/hub/hub-reconciliation-run.entity';
import type { ApiToken } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { beijingDateSchema, describeIssues } from '../../lib/validation';
import { clientForBearer } from '../auth';
import { sendError } from '../http-errors';
import { BEARER, bearerAnswers, documented, errorAnswer, unavailableAnswer } from './openapi';

export interface ReconciliationRouteDeps {
  db: DataSource;
  apiTokens: readonly ApiToken[];
  log: Logger;
}

const date = beijingDateSchema;
const id = z.string().regex(/^[1-9]\d{0,19}$/, 'expected a positive integer id');
const limit = z.coerce.number().int().min(1).max(500).default(50);

const runsQuery = z.strictObject({
  channel: z.string().min(1).max(16).optional(),
  merchant: z.string().min(1).max(64).optional(),
  date: date.optional(),
  from: date.optional(),
  to: date.optional(),
  limit,
  cursor: id.optional(),
});
const itemsQuery = z.strictObject({ kind: z.enum(RECONCILIATION_KINDS).optional(), limit, cursor: id.optional() });
const runParams = z.strictObject({ id });

const counted = z.object({ count: z.number().int(), totalFen: z.number().int().nullable() });
const runView = z.object({
  id: z.string(),
  channel: z.string(),
  merchant: z.string(),
  billDate: z.string().describe('YYYY-MM-DD, Beijing time'),
  status: z.string(),
  billRows: z.number().int(),
  billPayments: counted,
  billRefunds: counted,
  localPayments: counted,
  localRefunds: counted,
  discrepancyCount: z.number().int(),
  autoFixedCount: z.number().int(),
  billHash: z.string().nullable(),
  jobId: z.string().nullable(),
  error: z.string().nullable(),
  startedTime: z.string().nullable().describe('ISO 8601'),
  finishedTime: z.string().nullable(),
});
const itemView = z.object({
  id: z.string(),
  source: z.string(),
  kind: z.enum(RECONCILIATION_KINDS),
  merchant: z.string().nullable(),
  outTradeNo: z.string(),
  outRefundNo: z.string().nullable(),
  transactionId: z.string().nullable(),
  localTable: z.string().nullable(),
  wechatAmountFen: z.number().int().nullable(),
  localAmountFen: z.number().int().nullable(),
  wechatStatus: z.string().nullable(),
  localStatus: z.string().nullable(),
  autoFix: z.string().nullable(),
  createdTime: z.string().nullable().describe('ISO 8601'),
});
const nextCursor = z.string().nullable().describe('the `cursor` of the next page; null on the last');
const runsSchema = {
  summary: 'List reconciliation runs, newest first',
  tags: ['reconciliation'],
  security: BEARER,
  querystring: runsQuery,
  response: {
    200: z.object({ runs: z.array(runView), nextCursor }).describe('a page of runs'),
    400: errorAnswer('the query is invalid (`invalid_query`)'),
    ...bearerAnswers,
    503: unavailableAnswer,
  },
};
const itemsSchema = {
  summary: 'List the discrepancies of a run',
  tags: ['reconciliation'],
  security: BEARER,
  params: runParams,
  querystring: itemsQuery,
  response: {
    200: z.object({ runId: z.string(), items: z.array(itemView), nextCursor }).describe('a page of the run\'s discrepancies, oldest first'),
    400: errorAnswer('the id or the query is invalid (`invalid_query`)'),
    ...bearerAnswers,
    404: errorAnswer('no such run (`run_not_found`)'),
    503: unavailableAnswer,
  },
};

interface RunRow {
  id: string | number;
  channel: string;
  merchant: string;
  bill_date: string;
  status: string;
  bill_rows: number;
  bill_payment_count: number;
  bill_payment_total: string | number;
  bill_refund_count: number;
  bill_refund_total: string | number;
  local_payment_count: number;
  local_payment_total: string | number;
  local_refund_count: number;
  local_refund_total: string | number;
  discrepancy_count: number;
  auto_fixed_count: number;
  bill_hash: string | null;
  job_id: string | null;
  error: string | null;
  started_time: Date;
  finished_time: Date | null;
}

interface ItemRow {
  id: string | number;
  source: string;
  kind: string;
  merchant: string | null;
  out_trade_no: string;
  out_refund_no: string | null;
  transaction_id: string | null;
  local_table: string | null;
  wechat_amount: string | number | null;
  local_amount: string | number | null;
  wechat_status: string | null;
  local_status: string | null;
  auto_fix: string | null;
  created_time: Date;
}

const fen = (v: string | number | null): number | null => (v === null ? null : Number(v));
const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function runJson(r: RunRow): Record<string, unknown> {
  return {
    id: String(r.id),
    channel: r.channel,
    merchant: r.merchant,
    billDate: r.bill_date,
    status: r.status,
    billRows: Number(r.bill_rows),
    billPayments: { count: Number(r.bill_payment_count), totalFen: fen(r.bill_payment_total) },
    billRefunds: { count: Number(r.bill_refund_count), totalFen: fen(r.bill_refund_total) },
    localPayments: { count: Number(r.local_payment_count), totalFen: fen(r.local_payment_total) },
    localRefunds: { count: Number(r.local_refund_count), totalFen: fen(r.local_refund_total) },
    discrepancyCount: Number(r.discrepancy_count),
    autoFixedCount: Number(r.auto_fixed_count),
    billHash: r.bill_hash,
    jobId: r.job_id,
    error: r.error,
    startedTime: iso(r.started_time),
    finishedTime: iso(r.finished_time),
  };
}

function itemJson(r: ItemRow): Record<string, unknown> {
  return {
    id: String(r.id),
    source: r.source,
    kind: r.kind,
    merchant: r.merchant,
    outTradeNo: r.out_trade_no,
    outRefundNo: r.out_refund_no,
    transactionId: r.transaction_id,
    localTable: r.local_table,
    wechatAmountFen: fen(r.wechat_amount),
    localAmountFen: fen(r.local_amount),
    wechatStatus: r.wechat_status,
    localStatus: r.local_status,
    autoFix: r.auto_fix,
    createdTime: iso(r.created_time),
  };
}

function tableOf(db: DataSource, entity: typeof HubReconciliationRun | typeof HubReconciliationItem): string {
  const meta = db.getMetadata(entity);
  return meta.database ? `\`${meta.database}\`.\`${meta.tableName}\`` : `\`${meta.tableName}\``;
}

function badQuery(reply: FastifyReply, error: z.ZodError, root: string): FastifyReply {
  return sendError(reply, 400, { error: 'invalid_query', message: 'invalid query', fields: describeIssues(error, root) });
}

/**
 * Reports for ops and finance: reconciliation runs (newest first) and their discrepancies, paged by
 * id (keyset: `nextCursor` is the `cursor` of the next page). Money is integer fen.
 */
export function registerReconciliationRoutes(app: FastifyInstance, deps: ReconciliationRouteDeps): void {
  void app.register(async (api) => {
    api.addHook('onRequest', async (request, reply) => {
      if (!clientForBearer(request.headers.authorization, deps.apiTokens)) {
        reply.header('www-authenticate', 'Bearer realm="jobhub"');
        return sendError(reply, 401, { error: 'unauthorized', message: 'a valid Bearer token is required' });
      }
    });

    api.get('/api/v1/reconciliation/runs', documented(runsSchema), async (request, reply) => {
      const q = runsQuery.safeParse(request.query);
      if (!q.success) return badQuery(reply, q.error, '(query)');
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: string, value: unknown): void => {
        where.push(sql);
        params.push(value);
      };
      if (q.data.channel) add('channel = ?', q.data.channel);
      if (q.data.merchant) add('merchant = ?', q.data.merchant);
      if (q.data.date) add('bill_date = ?', q.data.date);
      if (q.data.from) add('bill_date >= ?', q.data.from);
      if (q.data.to) add('bill_date <= ?', q.data.to);
      if (q.data.cursor) add('id < ?', q.data.cursor);
      const rows = (await deps.db.query(
        `SELECT id, channel, merchant, DATE_FORMAT(bill_date, '%Y-%m-%d') AS bill_date, status, bill_rows, bill_payment_count, bill_payment_total,
                bill_refund_count, bill_refund_total, local_payment_count, local_payment_total, local_refund_count, local_refund_total,
                discrepancy_count, auto_fixed_count, bill_hash, job_id, error, started_time, finished_time
         FROM ${tableOf(deps.db, HubReconciliationRun)} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY id DESC LIMIT ${q.data.limit + 1}`,
        params,
      )) as RunRow[];
      const page = rows.slice(0, q.data.limit);
      const more = rows.length > q.data.limit;
      return { runs: page.map(runJson), nextCursor: more ? String(page[page.length - 1]?.id) : null };
    });

    api.get('/api/v1/reconciliation/runs/:id/items', documented(itemsSchema), async (request, reply) => {
      const p = runParams.safeParse(request.params);
      if (!p.success) return badQuery(reply, p.error, '(params)');
      const q = itemsQuery.safeParse(request.query);
      if (!q.success) return badQuery(reply, q.error, '(query)');
      const runs = (await deps.db.query(`SELECT id FROM ${tableOf(deps.db, HubReconciliationRun)} WHERE id = ?`, [p.data.id])) as unknown[];
      if (runs.length === 0) return sendError(reply, 404, { error: 'run_not_found', message: `no reconciliation run ${p.data.id}` });
      const where = ['run_id = ?'];
      const params: unknown[] = [p.data.id];
      if (q.data.kind) {
        where.push('kind = ?');
        params.push(q.data.kind);
      }
      if (q.data.cursor) {
        where.push('id > ?');
        params.push(q.data.cursor);
      }
      const rows = (await deps.db.query(
        `SELECT id, source, kind, merchant, out_trade_no, out_refund_no, transaction_id, local_table, wechat_amount, local_amount,
                wechat_status, local_status, auto_fix, created_time
         FROM ${tableOf(deps.db, HubReconciliationItem)} WHERE ${where.join(' AND ')} ORDER BY id LIMIT ${q.data.limit + 1}`,
        params,
      )) as ItemRow[];
      const page = rows.slice(0, q.data.limit);
      const more = rows.length > q.data.limit;
      return { runId: p.data.id, items: page.map(itemJson), nextCursor: more ? String(page[page.length - 1]?.id) : null };
    });
  });
}
