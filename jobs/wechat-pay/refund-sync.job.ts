import { z } from 'zod';
import { AndroidOrder } from '../../entities/app/android-order.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { RefundOrder, type RefundWechatStatus } from '../../entities/marketing/refund-order.entity';
import type { JobContext } from '../context';
import { RateLimitedError } from '../../lib/errors';
import { defineJob, done } from '../define-job';
import { applyWechatRefund, refundStateOf, type RefundApplyOutcome } from './apply-wechat-refund';
import { repairRefundStatuses, type RefundRepairResult } from './repair-refund-status';
import { enqueueRefundSubmit } from './request-refund';

const MINUTE = 60_000;
/** A refund submitted this long ago with no answer recorded is asked about: its submit may have been lost. */
export const UNANSWERED_AFTER_MS = 3 * MINUTE;
/** ABNORMAL refunds are followed this long for the SUCCESS an abnormal refund (bank card) brings. */
const ABNORMAL_FOLLOW_MS = 30 * 24 * 60 * MINUTE;
/** Queries in flight at once: WeChat allows 300/s per merchant; this keeps one run gentle. */
const QUERY_CONCURRENCY = 8;
const PAGE_SIZE = 1_000;

/**
 * How often a refund of this age is asked about, in minutes. Wallet refunds end within minutes,
 * bank cards within working days, so the polls thin out as a refund ages: stateless, from its
 * creation time alone.
 */
export function pollEveryMinutes(ageMs: number): number {
  if (ageMs < 5 * MINUTE) return 1;
  if (ageMs < 60 * MINUTE) return 5;
  if (ageMs < 24 * 60 * MINUTE) return 30;
  return 180;
}

/** Whether the run at `now` (the clock's minute) asks about a refund created at `created`. */
export function pollDue(created: Date, now: Date): boolean {
  const ageMs = Math.max(0, now.getTime() - created.getTime());
  return Math.floor(ageMs / MINUTE) % pollEveryMinutes(ageMs) === 0;
}

interface Candidate {
  id: string;
  outRefundNo: string;
  createdTime: Date;
  wechatStatus: RefundWechatStatus | null;
  mchid: string | null;
}

export interface RefundSyncResult {
  candidates: number;
  queried: number;
  applied: Partial<Record<RefundApplyOutcome, number>>;
  resubmitted: number;
  errors: number;
  /** Due refunds left to the next run: more were due than `batchSize`. */
  leftOver: number;
  /** Payments found disagreeing with their refunds (payments/repair-refund-status.ts). */
  repair: RefundRepairResult;
}

async function candidates(ctx: JobContext, now: Date): Promise<Candidate[]> {
  const all: Candidate[] = [];
  for (let afterId = '0'; ; ) {
    const rows = await ctx.db
      .createQueryBuilder(RefundOrder, 'r')
      .leftJoin(PaymentOrder, 'p', 'p.id = r.payment_order_id')
      .select(['r.id AS id', 'r.out_refund_no AS outRefundNo', 'r.created_time AS createdTime', 'r.wechat_status AS wechatStatus', 'p.mchid AS mchid'])
      .where('r.id > :afterId', { afterId: BigInt(afterId) })
      .andWhere(
        "((r.status = 'REFUNDING' AND (r.wechat_status = 'PROCESSING' OR (r.wechat_status IS NULL AND r.created_time < :unanswered)))" +
          " OR (r.status = 'REFUND_FAILED' AND r.wechat_status = 'ABNORMAL' AND r.created_time >= :abnormalSince))",
        { unanswered: new Date(now.getTime() - UNANSWERED_AFTER_MS), abnormalSince: new Date(now.getTime() - ABNORMAL_FOLLOW_MS) },
      )
      .orderBy('r.id', 'ASC')
      .limit(PAGE_SIZE)
      .getRawMany<{ id: string | number; outRefundNo: string; createdTime: Date; wechatStatus: RefundWechatStatus | null; mchid: string | null }>();
    for (const r of rows) all.push({ ...r, id: String(r.id), createdTime: new Date(r.createdTime) });
    const last = rows.at(-1);
    if (!last || rows.length < PAGE_SIZE) return all;
    afterId = String(last.id);
  }
}

/**
 * The clock's poll of refunds WeChat has not finished, or never answered: asks WeChat about each
 * on a decaying schedule and applies what it says through the one apply function. A refund WeChat
 * never received is submitted again under its own job id and out_refund_no. Then it repairs any
 * payment whose status disagrees with its refunds, and reports a refunded amount that does not add up.
 */
export const refundSync = defineJob({
  name: 'refund-sync',
  queue: 'refunds',
  description: 'Query WeChat Pay for refunds still PROCESSING or unanswered (decaying schedule by age) and apply their state; repair payments whose status disagrees with their refunds',
  payload: z.strictObject({ batchSize: z.number().int().min(1).max(10_000).default(500) }),
  entities: [RefundOrder, PaymentOrder, AndroidOrder, EventOrder, GroupBuyEventOrder, DmsBusinessLog, HubReconciliationItem],
  options: { attempts: 2, backoff: { type: 'fixed', delay: 10_000 } },
  async handle({ batchSize }, ctx) {
    const now = ctx.now();
    const found = await candidates(ctx, now);
    const due = found.filter((c) => pollDue(c.createdTime, now));
    const work = due.slice(0, batchSize);
    const result: RefundSyncResult = { candidates: found.length, queried: 0, applied: {}, resubmitted: 0, errors: 0, leftOver: due.length - work.length, repair: { repaired: 0, amountMismatches: 0 } };
    let throttled: RateLimitedError | null = null;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (!throttled && !ctx.signal.aborted) {
        const c = work[next++];
        if (!c) return;
        try {
          await syncOne(ctx, c, result);
        } catch (err) {
          // The whole merchant account is throttled: stop, and let the runner pause the queue.
          if (err instanceof RateLimitedError) throttled = err;
          else {
            result.errors += 1;
            ctx.log.warn({ err, outRefundNo: c.outRefundNo }, 'refund query failed: asked again at its next slot');
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(QUERY_CONCURRENCY, work.length) }, worker));
    if (throttled) throw throttled;
    result.repair = await repairRefundStatuses(ctx);
    await ctx.progress(result.queried, work.length);
    if (result.leftOver > 0) ctx.log.warn({ leftOver: result.leftOver, batchSize }, 'more refunds due than one run queries');
    if (result.queried > 0 || result.repair.repaired > 0 || result.repair.amountMismatches > 0) ctx.log.info({ ...result }, 'refunds synced with WeChat Pay');
    return done(result);
  },
});

async function syncOne(ctx: JobContext, c: Candidate, result: RefundSyncResult): Promise<void> {
  const mchid = c.mchid ?? ctx.integrations.wechatPay.defaultMchid;
  const client = await ctx.integrations.wechatPay.client(mchid);
  const answer = await client.queryRefund(c.outRefundNo);
  result.queried += 1;
  if (!answer) {
    if (c.wechatStatus === null) {
      // WeChat never got it: the submit was lost. Same job id, same out_refund_no: a no-op while it still runs.
      await enqueueRefundSubmit(ctx.enqueue, c.outRefundNo);
      result.resubmitted += 1;
    } else {
      ctx.log.warn({ outRefundNo: c.outRefundNo, wechatStatus: c.wechatStatus }, 'WeChat Pay does not know a refund it answered before');
    }
    return;
  }
  const applied = await applyWechatRefund(ctx, mchid, refundStateOf(answer), 'SYNC');
  result.applied[applied.outcome] = (result.applied[applied.outcome] ?? 0) + 1;
}
