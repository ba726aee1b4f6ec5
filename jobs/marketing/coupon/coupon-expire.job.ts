import { z } from 'zod';
import { DiscountCouponCode } from '../../../entities/marketing/discount-coupon-code.entity';
import { DmsBusinessLog } from '../../../entities/dms/dms-business-log.entity';
import { defineJob, done } from '../../define-job';
import { expireDueCoupons } from './coupon-expiry';

/**
 * 2,000 ids per window, two windows in flight: with half of them due, the longest statement took
 * 35 ms on an idle 2-core machine (bench/coupon-expire.bench.ts prints it), far under 100 ms.
 */
export const COUPON_WINDOW_DEFAULT = 2_000;

/**
 * UNOPEN/UNUSED codes whose `effect_end_time` is before now become TIME_OUT, one short transaction
 * per primary-key window, so no lock is held for long. Safe twice at once: each code is counted by
 * the run that changed it. The result and the audit rows count codes per coupon.
 */
export const couponExpire = defineJob({
  name: 'coupon-expire',
  queue: 'marketing',
  description: 'Expire UNOPEN/UNUSED coupons past effect_end_time (TIME_OUT) in primary-key batches',
  payload: z.strictObject({ batchSize: z.number().int().min(1).max(50_000).default(COUPON_WINDOW_DEFAULT) }),
  entities: [DiscountCouponCode, DmsBusinessLog],
  options: { attempts: 5, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 } },
  async handle({ batchSize }, ctx) {
    const outcome = await expireDueCoupons({
      db: ctx.db,
      now: ctx.now(),
      batchSize,
      signal: ctx.signal,
      // Windows walked out of the id range's: the share of the work done, whatever each window held.
      onWindow: (_expired, windows) => ctx.progress(windows.done, windows.total),
      audit: (manager, entry) => ctx.audit(manager, entry),
      runId: ctx.job.id,
    });
    ctx.log.info({ expired: outcome.expired, coupons: outcome.coupons.size, windows: outcome.windows }, 'due coupons expired');
    return done({ expired: outcome.expired, coupons: Object.fromEntries(outcome.coupons) });
  },
});
