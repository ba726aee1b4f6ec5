import type { z } from 'zod';
import { couponExpire } from './marketing/coupon/coupon-expire.job';
import type { JobDefinition } from './define-job';
import { eventRemindSessions } from './marketing/remind/event-remind-sessions.job';
import { groupBuyCloseTeams } from './marketing/group-buy/group-buy-close-teams.job';
import { groupBuyFillRobots } from './marketing/group-buy/group-buy-fill-robots.job';
import { groupBuyRemind } from './marketing/remind/group-buy-remind.job';
import { notifyDispatch } from './messaging/notify-dispatch.job';
import { refundSync } from './wechat-pay/refund-sync.job';
import { shareAggregate } from './marketing/share/share-aggregate.job';
import { schoolSync } from './school/school-sync.job';
import { familySync } from './school/family-sync.job';
import { smsCodeCleanup } from './ops/sms-code-cleanup.job';
import { hubRetention } from './ops/hub-retention.job';
import { wechatPayCloseExpired } from './wechat-pay/wechat-pay-close-expired.job';
import { wechatPayReconcileBill } from './wechat-pay/wechat-pay-reconcile-bill.job';
import { wechatPaySyncStuckOrders } from './wechat-pay/wechat-pay-sync-stuck-orders.job';
import { appleClaimOrphans } from './apple/apple-claim-orphans.job';
import { appleReconcile } from './apple/apple-reconcile.job';
import { appleSyncSubscriptions } from './apple/apple-sync-subscriptions.job';

/** Every pattern is read in Beijing time, the business day of the systems the jobs touch. */
export const CLOCK_TIMEZONE = 'Asia/Shanghai';

export interface Schedule<S extends z.ZodType = z.ZodType> {
  /** A job of the registry; each job is scheduled at most once, since its slot ids would collide. */
  readonly job: JobDefinition<S>;
  /** node-cron: 5 fields, or 6 with seconds first. */
  readonly cron: string;
  /** Checked against the job's schema when the clock starts, so a bad one stops it at once. */
  readonly payload: z.input<S>;
}

/** The cron table: data only; `workers/clock.ts` enqueues, workers run. */
export const SCHEDULES: readonly Schedule[] = [
  { job: smsCodeCleanup, cron: '0 * * * *', payload: {} },
  // The hub's own finished rows past their age, at night when nothing else runs.
  { job: hubRetention, cron: '40 3 * * *', payload: {} },
  { job: wechatPayCloseExpired, cron: '* * * * *', payload: {} },
  { job: wechatPaySyncStuckOrders, cron: '*/5 * * * *', payload: {} },
  // Refunds still PROCESSING (or never answered): each is queried on a schedule that decays with its age.
  { job: refundSync, cron: '* * * * *', payload: {} },
  // Yesterday's bill of every merchant: WeChat generates it from 09:00 and advises fetching after 10:00.
  { job: wechatPayReconcileBill, cron: '0 10 * * *', payload: {} },
  // App Store subscriptions whose state may have moved unheard (expiring, in grace, in billing retry).
  { job: appleSyncSubscriptions, cron: '20 * * * *', payload: {} },
  // Parked App Store transactions whose user has appeared since (no notification tells the hub so).
  { job: appleClaimOrphans, cron: '*/5 * * * *', payload: {} },
  // Yesterday's App Store notification history, every environment: late in the morning, so even the
  // day's last failed sends have had Apple's first retry (an hour later) and the sweeper's pass.
  { job: appleReconcile, cron: '30 10 * * *', payload: {} },
  // Pending notifies rows: in-app ones marked sent, e-mail and SMS ones handed to their jobs.
  { job: notifyDispatch, cron: '* * * * *', payload: {} },
  // Marketing batches: coupons expire in short windows; teams fill with robots before they close,
  // and close (refunding members) once past their expiry; reminders are owed once per order.
  { job: couponExpire, cron: '*/5 * * * *', payload: {} },
  { job: groupBuyFillRobots, cron: '* * * * *', payload: {} },
  { job: groupBuyCloseTeams, cron: '* * * * *', payload: {} },
  { job: groupBuyRemind, cron: '* * * * *', payload: {} },
  { job: eventRemindSessions, cron: '*/5 * * * *', payload: {} },
  // New share_tracking rows folded into the counters below a safe watermark.
  { job: shareAggregate, cron: '* * * * *', payload: {} },
  // The school system's changes of the day, at night: schools first, then the students feed into families.
  { job: schoolSync, cron: '30 2 * * *', payload: {} },
  { job: familySync, cron: '45 2 * * *', payload: {} },
];
