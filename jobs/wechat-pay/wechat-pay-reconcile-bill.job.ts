import type { Readable } from 'node:stream';
import { z } from 'zod';
import { AndroidOrder } from '../../entities/app/android-order.entity';
import { HubReconciliationBillRow } from '../../entities/hub/hub-reconciliation-bill-row.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { HubReconciliationRun, type ReconciliationRunStatus } from '../../entities/hub/hub-reconciliation-run.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { parseBillBatches, summaryMismatch, type BillSummary, type BillTotals } from '../../integrations/wechat-pay/wechat-pay.bill-parser';
import { StatementNotReadyError } from '../../integrations/wechat-pay/wechat-pay.errors';
import { raiseAlert } from '../messaging/alert-ops';
import type { Enqueue, EnqueuedJob, JobContext } from '../context';
import { PermanentError } from '../../lib/errors';
import { beijingDate, beijingDayRange, previousBeijingDate } from '../../lib/time';
import { beijingDateSchema } from '../../lib/validation';
import { defineJob, done, type JobResult } from '../define-job';
import {
  compareBill,
  countItems,
  deleteInSlices,
  billInsertSql,
  localTotals,
  reconcileTables,
  statusMismatches,
  type CompareScope,
  type ReconcileTables,
} from './bill-sql';
import { enqueueSyncOrder } from './wechat-pay-sync-order.job';
import { reconcileExclusively } from '../reconcile-lock';

/**
 * Bill lines per multi-row INSERT: one statement and one short transaction each. 800 keeps the
 * statement's text (about 90 bytes a line) under V8's large-object size: larger ones are freed only
 * by full collections, and the garbage of a million-row bill then grew the process's memory with
 * the bill (peak RSS 159 → 213 MB for 100,000 → 1,000,000 rows at 2,000 a batch; 125 → 142 MB at 800).
 */
const BATCH_ROWS = 800;
/** Batches inserted at once: a second connection keeps MySQL busy while the first commits. */
const INSERTS_IN_FLIGHT = 2;
/** STATUS_MISMATCH items read back per query to enqueue their syncs. */
const SYNC_BATCH = 500;
const ATTEMPTS = 6;
const CHANNEL = 'WECHAT';

const billDate = beijingDateSchema;

export interface ReconcileSummary {
  runId: string;
  mchid: string;
  billDate: string;
  status: ReconciliationRunStatus;
  billRows: number;
  /** Payment rows (交易状态 SUCCESS) and the sum of their 订单金额, fen. */
  billPayments: { count: number; totalFen: number };
  billRefunds: { count: number; totalFen: number };
  localPayments: { count: number; totalFen: number };
  localRefunds: { count: number; totalFen: number };
  discrepancies: number;
  byKind: Record<string, number>;
  autoFixed: number;
  billHash: string | null;
}

/**
 * Reconciles one merchant's trade bill of one Beijing date with payment_order, android_order and
 * refund_order (docs/architecture.md, "Bill reconciliation in flat memory"): the bill streams into
 * a staging table, set-based SQL finds the discrepancies, the safe kind (paid at WeChat, unpaid
 * here) is fixed by a sync. Without a merchant it enqueues one job per merchant. Re-running a date
 * replaces its items.
 */
export const wechatPayReconcileBill = defineJob({
  name: 'wechat-pay-reconcile-bill',
  queue: 'reconcile',
  description: "Download a WeChat Pay trade bill (yesterday's by default, every merchant unless one is named) and reconcile it with local orders and refunds",
  payload: z.strictObject({ mchid: z.string().min(1).max(32).optional(), billDate: billDate.optional() }),
  entities: [PaymentOrder, AndroidOrder, RefundOrder, HubReconciliationRun, HubReconciliationItem, HubReconciliationBillRow],
  // A truncated download (hash mismatch) is applied for again soon; STATEMENT_CREATING defers without an attempt.
  options: { attempts: ATTEMPTS, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 } },
  async handle(p, ctx): Promise<JobResult<unknown>> {
    const date = p.billDate ?? latestReadyBillDate(ctx.now());
    if (p.mchid === undefined) {
      const merchants = await ctx.integrations.wechatPay.list();
      for (const mchid of merchants) await enqueueReconcileBill(ctx.enqueue, mchid, date);
      ctx.log.info({ billDate: date, merchants: merchants.length }, 'bill reconciliation enqueued per merchant');
      return done({ billDate: date, merchants });
    }
    const mchid = p.mchid;
    return done(await reconcileExclusively(ctx, CHANNEL, mchid, date, () => reconcile(ctx, mchid, date)));
  },
});

/** One run per merchant and date, whoever asks (the daily fan-out, `jobhub reconcile wechat`): a second enqueue adds nothing. */
export const reconcileBillJobId = (mchid: string, billDate: string): string => `wechat-reconcile-${mchid}-${billDate.replace(/-/g, '')}`;

export function enqueueReconcileBill(enqueue: Enqueue, mchid: string, billDate: string): Promise<EnqueuedJob> {
  return enqueue(wechatPayReconcileBill, { mchid, billDate }, { jobId: reconcileBillJobId(mchid, billDate) });
}

/** WeChat advises fetching a day's bill from 10:00 Beijing of the next day. */
const BILL_READY_AFTER_MS = 10 * 3_600_000;

/**
 * The latest Beijing date whose bill WeChat has ready: yesterday from 10:00, the day before until
 * then. So the 10:00 slot reconciles yesterday, and the same slot caught up by a clock that was down
 * (enqueued at 02:00 the next night) still reconciles the date it was for.
 */
export function latestReadyBillDate(now: Date): string {
  return previousBeijingDate(beijingDate(new Date(now.getTime() - BILL_READY_AFTER_MS)));
}

async function reconcile(ctx: JobContext, mchid: string, date: string): Promise<ReconcileSummary> {
  const t = reconcileTables(ctx.db);
  const client = await ctx.integrations.wechatPay.client(mchid);
  const { start, end } = beijingDayRange(date);
  const runId = await openRun(ctx, t, mchid, date);
  const base = { runId, mchid, isDefault: mchid === ctx.integrations.wechatPay.defaultMchid, dayStart: start, dayEnd: end, now: ctx.now() };
  try {
    // Applied for only now, right before the download: the link lives 30 s to 5 min.
    const application = await client.applyTradeBill(date, { gzip: true });
    let loaded: Loaded = { rows: 0, payments: { count: 0, totalFen: 0 }, refunds: { count: 0, totalFen: 0 } };
    let billHash: string | null = null;
    if (application.kind === 'ticket') {
      const loadStarted = performance.now();
      loaded = await loadBill(ctx, t, runId, await client.downloadBill(application.ticket));
      billHash = application.ticket.hash_value.toLowerCase();
      ctx.log.info({ runId, rows: loaded.rows, ms: Math.round(performance.now() - loadStarted) }, 'bill loaded into staging');
    }
    ctx.signal.throwIfAborted();
    const compareStarted = performance.now();
    const scope: CompareScope = { ...base, billRefunds: loaded.refunds.count };
    const [, local] = await Promise.all([compareBill(ctx.db, t, scope), localTotals(ctx.db, t, scope)]);
    ctx.log.info({ runId, ms: Math.round(performance.now() - compareStarted) }, 'bill compared');
    // The staging rows are done with: deleted while the syncs are enqueued.
    const [autoFixed] = await Promise.all([enqueueSyncs(ctx, t, runId, mchid), deleteInSlices(ctx.db, t.bill, runId)]);
    const byKind = await countItems(ctx.db, t, runId);
    const discrepancies = Object.values(byKind).reduce((a, b) => a + b, 0);
    const status: ReconciliationRunStatus = application.kind === 'ticket' ? 'COMPLETED' : 'EMPTY';
    const now = ctx.now();
    await ctx.db.query(
      `UPDATE ${t.run.sql} SET status = ?, bill_rows = ?, bill_payment_count = ?, bill_payment_total = ?, bill_refund_count = ?, bill_refund_total = ?,
         local_payment_count = ?, local_payment_total = ?, local_refund_count = ?, local_refund_total = ?, discrepancy_count = ?, auto_fixed_count = ?,
         bill_hash = ?, error = NULL, finished_time = ?, updated_time = ? WHERE id = ?`,
      [
        status, loaded.rows, loaded.payments.count, loaded.payments.totalFen, loaded.refunds.count, loaded.refunds.totalFen,
        local.paymentCount, local.paymentTotal, local.refundCount, local.refundTotal, discrepancies, autoFixed,
        billHash, now, now, runId,
      ],
    );
    const summary: ReconcileSummary = {
      runId, mchid, billDate: date, status, billRows: loaded.rows, billPayments: loaded.payments, billRefunds: loaded.refunds,
      localPayments: { count: local.paymentCount, totalFen: local.paymentTotal },
      localRefunds: { count: local.refundCount, totalFen: local.refundTotal },
      discrepancies, byKind, autoFixed, billHash,
    };
    if (discrepancies > 0) {
      raiseAlert(ctx, 'reconciliation-discrepancies', `WeChat Pay bill ${date} of ${mchid}: ${discrepancies} discrepancies`, { runId, mchid, billDate: date, byKind, autoFixed });
    } else {
      ctx.log.info({ runId, billDate: date, rows: loaded.rows }, 'bill reconciled: no discrepancies');
    }
    return summary;
  } catch (err) {
    await recordFailure(ctx, t, runId, err).catch((e: unknown) => ctx.log.warn({ err: e, runId }, 'could not record the run failure'));
    if (!(err instanceof StatementNotReadyError) && (err instanceof PermanentError || ctx.job.attempt >= ATTEMPTS)) {
      raiseAlert(ctx, 'reconciliation-failed', `WeChat Pay bill ${date} of ${mchid} could not be reconciled`, { runId, mchid, billDate: date, reason: String(err) });
    }
    throw err;
  }
}

/**
 * The run row of (channel, merchant, date), created or reset to RUNNING, with the items and staging
 * rows of an earlier run of the date deleted: a re-run replaces, never adds.
 */
async function openRun(ctx: JobContext, t: ReconcileTables, mchid: string, date: string): Promise<string> {
  const now = ctx.now();
  await ctx.db.query(
    `INSERT INTO ${t.run.sql} (channel, merchant, bill_date, status, job_id, started_time, created_time, updated_time)
     VALUES (?, ?, ?, 'RUNNING', ?, ?, ?, ?)
     ON DUPLICATE KEY UPDATE status = 'RUNNING', job_id = VALUES(job_id), started_time = VALUES(started_time), updated_time = VALUES(updated_time),
       finished_time = NULL, error = NULL, bill_rows = 0, bill_payment_count = 0, bill_payment_total = 0, bill_refund_count = 0, bill_refund_total = 0,
       local_payment_count = 0, local_payment_total = 0, local_refund_count = 0, local_refund_total = 0, discrepancy_count = 0, auto_fixed_count = 0, bill_hash = NULL`,
    [CHANNEL, mchid, date, ctx.job.id || null, now, now, now],
  );
  const [row] = (await ctx.db.query(`SELECT id FROM ${t.run.sql} WHERE channel = ? AND merchant = ? AND bill_date = ?`, [CHANNEL, mchid, date])) as { id: string | number }[];
  if (!row) throw new Error(`the reconciliation run of ${mchid} ${date} vanished after its upsert`);
  const runId = String(row.id);
  await deleteInSlices(ctx.db, t.item, runId);
  await deleteInSlices(ctx.db, t.bill, runId);
  return runId;
}

interface Loaded {
  rows: number;
  payments: { count: number; totalFen: number };
  refunds: { count: number; totalFen: number };
}

/**
 * Streams the bill into the staging table: the next batch is parsed while earlier ones are inserted
 * (at most INSERTS_IN_FLIGHT at once, so memory stays a few batches). The download errors at its end
 * when the SHA1 differs (truncated): every row loaded is then void, so the staging rows go and the
 * error propagates (retried: the bill is applied for again).
 */
async function loadBill(ctx: JobContext, t: ReconcileTables, runId: string, stream: Readable): Promise<Loaded> {
  const loaded: Loaded = { rows: 0, payments: { count: 0, totalFen: 0 }, refunds: { count: 0, totalFen: 0 } };
  let summary: BillSummary | undefined;
  let totals: BillTotals | undefined;
  const inFlight: Promise<void>[] = [];
  const insert = async (sql: string, rows: number): Promise<void> => {
    await ctx.db.query(sql);
    loaded.rows += rows;
    await ctx.progress(loaded.rows);
  };
  try {
    for await (const batch of parseBillBatches(stream, BATCH_ROWS)) {
      for (const r of batch.rows) {
        if (r.tradeState === 'SUCCESS') {
          loaded.payments.count += 1;
          loaded.payments.totalFen += r.orderFen;
        } else if (r.tradeState === 'REFUND') {
          loaded.refunds.count += 1;
          loaded.refunds.totalFen += r.refundFen;
        }
      }
      const sql = batch.rows.length ? billInsertSql(t, runId, batch.rows) : '';
      if (inFlight.length >= INSERTS_IN_FLIGHT) await inFlight.shift();
      ctx.signal.throwIfAborted();
      const pending = sql ? insert(sql, batch.rows.length) : Promise.resolve();
      // Handled here too, so a failed insert is never an unhandled rejection while the next batch parses.
      pending.catch(() => undefined);
      inFlight.push(pending);
      if (batch.summary) {
        summary = batch.summary;
        totals = batch.totals;
      }
    }
    await Promise.all(inFlight);
    if (!summary || !totals) throw new PermanentError('BILL_MALFORMED', 'the bill ended without its summary');
    const mismatch = summaryMismatch(summary, totals);
    if (mismatch) throw new PermanentError('BILL_SUMMARY_MISMATCH', `the bill's summary disagrees with its lines: ${mismatch}`);
    return loaded;
  } catch (err) {
    stream.destroy();
    await Promise.allSettled(inFlight);
    await deleteInSlices(ctx.db, t.bill, runId);
    throw err;
  }
}

/** Enqueues a sync of every order WeChat has paid and we have not (the one kind fixed automatically). */
async function enqueueSyncs(ctx: JobContext, t: ReconcileTables, runId: string, mchid: string): Promise<number> {
  let afterId = '0';
  let enqueued = 0;
  for (;;) {
    const batch = await statusMismatches(ctx.db, t, runId, afterId, SYNC_BATCH);
    if (batch.length === 0) return enqueued;
    for (const item of batch) await enqueueSyncOrder(ctx.enqueue, mchid, item.outTradeNo);
    enqueued += batch.length;
    afterId = batch[batch.length - 1]?.id ?? afterId;
  }
}

/** The run shows why it stopped; one waiting for WeChat's bill stays RUNNING and says so. */
async function recordFailure(ctx: JobContext, t: ReconcileTables, runId: string, err: unknown): Promise<void> {
  const waiting = err instanceof StatementNotReadyError;
  const message = (err instanceof Error ? err.message : String(err)).slice(0, 1000);
  const now = ctx.now();
  await ctx.db.query(`UPDATE ${t.run.sql} SET status = ?, error = ?, updated_time = ?, finished_time = ? WHERE id = ?`, [
    waiting ? 'RUNNING' : 'FAILED',
    waiting ? `waiting for the bill: ${message}` : message,
    now,
    waiting ? null : now,
    runId,
  ]);
}
