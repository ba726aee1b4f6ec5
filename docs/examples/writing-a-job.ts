import { In, LessThan } from 'typeorm';
import { z } from 'zod';
import { DiscountCouponCode } from '../../entities/marketing/discount-coupon-code.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { BusinessSource, OperationType } from '../../entities/dms/audit';
import { defineJob, done, skipped } from '../../jobs/define-job';

const DUE = In(['UNOPEN', 'UNUSED']);

export const expireCouponCodes = defineJob({
  name: 'example-expire-coupon-codes', // stable: other systems enqueue by it
  queue: 'marketing',
  description: 'Expire the due codes of one coupon (an example; the real job is coupon-expire)',
  payload: z.strictObject({
    couponId: z.string().regex(/^\d{1,19}$/),
    batchSize: z.number().int().min(1).max(10_000).default(2_000),
  }),
  options: { attempts: 5, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 } },
  entities: [DiscountCouponCode, DmsBusinessLog], // the tables it uses: the schema check guards them
  async handle({ couponId, batchSize }, ctx) {
    // ctx: config, db, redis, log (job-scoped), integrations, job, enqueue, progress, audit, now, signal
    let expired = 0;
    for (;;) {
      ctx.signal.throwIfAborted(); // on shutdown the runner hands the job back
      const changed = await ctx.db.transaction(async (manager) => {
        const codes = manager.getRepository(DiscountCouponCode);
        const due = await codes.find({
          select: { id: true },
          where: { discountCouponId: couponId, status: DUE, effectEndTime: LessThan(ctx.now()) },
          order: { id: 'ASC' },
          take: batchSize,
        });
        if (due.length === 0) return 0;
        const { affected = 0 } = await codes.update({ id: In(due.map((c) => c.id)), status: DUE }, { status: 'TIME_OUT' });
        await ctx.audit(manager, {
          businessNo: couponId,
          source: BusinessSource.COUPON,
          operation: OperationType.UPDATE,
          newValue: { status: 'TIME_OUT', count: affected },
        });
        return affected;
      });
      if (changed === 0) break;
      expired += changed;
      await ctx.progress(expired);
    }
    return expired === 0 ? skipped('no due codes') : done({ expired });
  },
});
