import { z } from 'zod';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { HubReconciliationRun, type ReconciliationRunStatus } from '../../entities/hub/hub-reconciliation-run.entity';
import { APPLE_ENVIRONMENTS, type AppleEnvironment } from '../../integrations/apple/apple.client';
import type { Enqueue, EnqueuedJob, JobContext } from '../context';
import { PermanentError } from '../../lib/errors';
import { beijingDate, beijingDayRange, previousBeijingDate } from '../../lib/time';
import { beijingDateSchema } from '../../lib/validation';
import { compareSubscriptions } from './reconcile-compare';
import { replayHistory } from './reconcile-history';
import { APPLE_CHANNEL, appleMerchant } from './reconcile-items';
import { appleHandleNotification } from './apple-handle-notification.job';
import { defineJob, done, type JobResult } from '../define-job';
import { raiseAlert } from '../messaging/alert-ops';
import { countItems, reconcileTables, type ReconcileTables } from '../wechat-pay/bill-sql';
import { reconcileExclusively } from '../reconcile-lock';

const ATTEMPTS = 6;

export interface AppleReconcileSummary {
  runId: string;
  environment: AppleEnvironment;
  date: string;
  status: ReconciliationRunStatus;
  /** Distinct notifications Apple sent that day, and those it lists as not delivered. */
  notifications: number;
  failedDeliveries: number;
  /** Notifications the hub had not handled, applied by this run. */
  missed: number;
  /** Subscriptions compared with Get All Subscription Statuses. */
  subscriptions: number;
  /** Items of the run (all its runs of the day), by kind. */
  discrepancies: number;
  byKind: Record<string, number>;
  autoFixed: number;
}

/**
 * Reconciles one Beijing day of App Store notifications (yesterday's by default) per environment:
 * Get Notification History is replayed (failed deliveries first) and what the hub missed is applied,
 * then the subscriptions those notifications touched are compared, by status and expiry, with
 * apple_order. A re-run of the day reuses its run row and keeps what earlier runs found: the
 * differences a run fixes are gone by the next one, so its items are not replaced, and their
 * dedupe keys make the re-run add only what is new.
 */
export const appleReconcile = defineJob({
  name: 'apple-reconcile',
  queue: 'reconcile',
  description: "Replay a day's App Store notification history (yesterday's by default, every environment unless one is named) and compare subscription statuses",
  payload: z.strictObject({ environment: z.enum(APPLE_ENVIRONMENTS).optional(), date: beijingDateSchema.optional() }),
  entities: [...(appleHandleNotification.entities ?? []), HubReconciliationRun, HubReconciliationItem],
  options: { attempts: ATTEMPTS, backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 } },
  async handle(p, ctx): Promise<JobResult<unknown>> {
    const apple = ctx.integrations.apple;
    const date = p.date ?? previousBeijingDate(beijingDate(ctx.now()));
    if (p.environment === undefined) {
      for (const environment of apple.environments) await enqueueAppleReconcile(ctx.enqueue, environment, date);
      return done({ date, environments: apple.environments });
    }
    const environment = p.environment;
    if (!apple.environments.includes(environment)) throw new PermanentError('APPLE_ENVIRONMENT_NOT_ACCEPTED', `environment: ${environment} is not in APPLE_ENVIRONMENTS`);
    const merchant = appleMerchant(apple.bundleId, environment);
    return done(await reconcileExclusively(ctx, APPLE_CHANNEL, merchant, date, () => reconcile(ctx, environment, merchant, date)));
  },
});

/** One run per environment and date, whoever asks (the daily fan-out, `jobhub reconcile apple`): a second enqueue adds nothing. */
export const appleReconcileJobId = (environment: AppleEnvironment, date: string): string => `apple-reconcile-${environment.toLowerCase()}-${date.replace(/-/g, '')}`;

export function enqueueAppleReconcile(enqueue: Enqueue, environment: AppleEnvironment, date: string): Promise<EnqueuedJob> {
  return enqueue(appleReconcile, { environment, date }, { jobId: appleReconcileJobId(environment, date) });
}

async function reconcile(ctx: JobContext, environment: AppleEnvironment, merchant: string, date: string): Promise<AppleReconcileSummary> {
  const apple = ctx.integrations.apple;
  const t = reconcileTables(ctx.db);
  const runId = await openRun(ctx, t, merchant, date);
  try {
    const { start, end } = beijingDayRange(date);
    const scope = { apple, environment, runId, merchant };
    const replayed = await replayHistory(ctx, { ...scope, startDate: start.getTime(), endDate: end.getTime() });
    const compared = await compareSubscriptions(ctx, scope, replayed.touched);
    const byKind = await countItems(ctx.db, t, runId);
    const discrepancies = Object.values(byKind).reduce((a, b) => a + b, 0);
    const [fixed] = (await ctx.db.query(`SELECT COUNT(*) AS n FROM ${t.item.sql} WHERE run_id = ? AND auto_fix IS NOT NULL`, [runId])) as { n: string | number }[];
    const autoFixed = Number(fixed?.n ?? 0);
    const status: ReconciliationRunStatus = replayed.notifications > 0 ? 'COMPLETED' : 'EMPTY';
    const now = ctx.now();
    // bill_rows counts the day's notifications: Apple's history stands where WeChat's bill does.
    await ctx.db.query(
      `UPDATE ${t.run.sql} SET status = ?, bill_rows = ?, discrepancy_count = ?, auto_fixed_count = ?, error = NULL, finished_time = ?, updated_time = ? WHERE id = ?`,
      [status, replayed.notifications, discrepancies, autoFixed, now, now, runId],
    );
    const summary: AppleReconcileSummary = {
      runId, environment, date, status, notifications: replayed.notifications, failedDeliveries: replayed.failedDeliveries, missed: replayed.missed,
      subscriptions: compared.subscriptions, discrepancies, byKind, autoFixed,
    };
    if (discrepancies > 0) {
      await raiseAlert(ctx, 'reconciliation-discrepancies', `App Store ${environment} ${date}: ${discrepancies} discrepancies`, { runId, environment, date, byKind, autoFixed });
    } else {
      ctx.log.info({ runId, date, environment, notifications: replayed.notifications }, 'app store day reconciled: no discrepancies');
    }
    return summary;
  } catch (err) {
    const message = (err instanceof Error ? err.message : String(err)).slice(0, 1000);
    const now = ctx.now();
    await ctx.db
      .query(`UPDATE ${t.run.sql} SET status = 'FAILED', error = ?, finished_time = ?, updated_time = ? WHERE id = ?`, [message, now, now, runId])
      .catch((e: unknown) => ctx.log.warn({ err: e, runId }, 'could not record the run failure'));
    if (err instanceof PermanentError || ctx.job.attempt >= ATTEMPTS) {
      await raiseAlert(ctx, 'reconciliation-failed', `App Store ${environment} ${date} could not be reconciled`, { runId, environment, date, reason: String(err) });
    }
    throw err;
  }
}

/** The run row of (APPLE, app/environment, date), created or set RUNNING again; its items stay. */
async function openRun(ctx: JobContext, t: ReconcileTables, merchant: string, date: string): Promise<string> {
  const now = ctx.now();
  await ctx.db.query(
    `INSERT INTO ${t.run.sql} (channel, merchant, bill_date, status, job_id, started_time, created_time, updated_time) VALUES (?, ?, ?, 'RUNNING', ?, ?, ?, ?)
     ON DUPLICATE KEY UPDATE status = 'RUNNING', job_id = VALUES(job_id), started_time = VALUES(started_time), updated_time = VALUES(updated_time), finished_time = NULL, error = NULL`,
    [APPLE_CHANNEL, merchant, date, ctx.job.id || null, now, now, now],
  );
  const [row] = (await ctx.db.query(`SELECT id FROM ${t.run.sql} WHERE channel = ? AND merchant = ? AND bill_date = ?`, [APPLE_CHANNEL, merchant, date])) as { id: string | number }[];
  if (!row) throw new Error(`the reconciliation run of ${merchant} ${date} vanished after its upsert`);
  return String(row.id);
}
