import { z } from 'zod';
import { AndroidOrder, AndroidOrderStatus } from '../../entities/app/android-order.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import type { JobContext } from '../context';
import { defineJob, done } from '../define-job';
import { enqueueSyncOrder } from './wechat-pay-sync-order.job';

/**
 * Orders still unpaid a few minutes after they were created: a sync for each, so a callback WeChat
 * never delivered (or we lost) never leaves a paid order unpaid. Older than two days is left to
 * the bill reconciliation. Walks the (status, created) indexes by keyset.
 */

const LOOKBACK_MS = 2 * 24 * 3_600_000;
const STUCK_STATUSES = ['UNPAID', 'PAY_PROCESSING'] as const;

interface Window {
  from: Date;
  to: Date;
  batchSize: number;
}

type Cursor = { at: Date; key: string } | null;
/** `key` orders the walk (the primary key); `outTradeNo` is what WeChat knows the order by. */
type Row = { key: string; at: Date; outTradeNo: string };

/** One keyset page: rows created in the window, after the cursor, in (created, key) order. */
async function paymentPage(ctx: JobContext, status: string, w: Window, after: Cursor): Promise<(Row & { mchid: string })[]> {
  const qb = ctx.db
    .createQueryBuilder(PaymentOrder, 'p')
    .select('p.id', 'key')
    .addSelect('p.created_time', 'at')
    .addSelect('p.out_trade_no', 'outTradeNo')
    .addSelect('p.mchid', 'mchid')
    .where('p.pay_status = :status AND p.created_time >= :from AND p.created_time < :to', { status, from: w.from, to: w.to });
  if (after) qb.andWhere('(p.created_time > :at OR (p.created_time = :at AND p.id > :key))', { at: after.at, key: after.key });
  return qb.orderBy('p.created_time', 'ASC').addOrderBy('p.id', 'ASC').limit(w.batchSize).getRawMany();
}

async function androidPage(ctx: JobContext, w: Window, after: Cursor): Promise<Row[]> {
  const qb = ctx.db
    .createQueryBuilder(AndroidOrder, 'a')
    .select('a.oid', 'key')
    .addSelect('a.created_at', 'at')
    .addSelect('a.oid', 'outTradeNo')
    .where('a.status = :status AND a.created_at >= :from AND a.created_at < :to', { status: AndroidOrderStatus.UNPAID, from: w.from, to: w.to });
  if (after) qb.andWhere('(a.created_at > :at OR (a.created_at = :at AND a.oid > :key))', { at: after.at, key: after.key });
  return qb.orderBy('a.created_at', 'ASC').addOrderBy('a.oid', 'ASC').limit(w.batchSize).getRawMany();
}

/** Pages through one source, enqueuing a sync per row; returns how many. */
async function walk<R extends Row>(
  ctx: JobContext,
  page: (after: Cursor) => Promise<R[]>,
  mchidOf: (row: R) => string,
  batchSize: number,
): Promise<number> {
  let count = 0;
  for (let after: Cursor = null; ; ) {
    ctx.signal.throwIfAborted();
    const rows = await page(after);
    await Promise.all(rows.map((r) => enqueueSyncOrder(ctx.enqueue, mchidOf(r), r.outTradeNo)));
    count += rows.length;
    const last = rows.at(-1);
    if (!last || rows.length < batchSize) return count;
    after = { at: last.at, key: last.key };
  }
}

export const wechatPaySyncStuckOrders = defineJob({
  name: 'wechat-pay-sync-stuck-orders',
  queue: 'payments',
  description: 'Enqueue wechat-pay-sync-order for payment_order / android_order rows unpaid for more than a few minutes (last 2 days)',
  payload: z.strictObject({
    olderThanMinutes: z.number().int().min(1).max(1_440).default(5),
    batchSize: z.number().int().min(1).max(5_000).default(500),
  }),
  entities: [PaymentOrder, AndroidOrder],
  options: { attempts: 3, backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 } },
  async handle({ olderThanMinutes, batchSize }, ctx) {
    const now = ctx.now().getTime();
    const w: Window = { from: new Date(now - LOOKBACK_MS), to: new Date(now - olderThanMinutes * 60_000), batchSize };
    let payments = 0;
    for (const status of STUCK_STATUSES) {
      payments += await walk(ctx, (after) => paymentPage(ctx, status, w, after), (r) => r.mchid, batchSize);
      await ctx.progress(payments);
    }
    const defaultMchid = ctx.integrations.wechatPay.defaultMchid;
    const android = await walk(ctx, (after) => androidPage(ctx, w, after), () => defaultMchid, batchSize);
    await ctx.progress(payments + android);
    if (payments + android > 0) ctx.log.info({ payments, android }, 'syncs enqueued for stuck wechat pay orders');
    return done({ payments, android, enqueued: payments + android });
  },
});
