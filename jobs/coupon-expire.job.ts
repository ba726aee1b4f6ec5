import { z } from 'zod';
import { defineJob, skipped } from './define-job';

export const couponExpire = defineJob({
  name: 'coupon-expire',
  queue: 'marketing',
  description: 'Expire UNOPEN/UNUSED coupons past effect_end_time (TIME_OUT) in primary-key batches',
  payload: z.strictObject({}),
  async handle() {
    return skipped('not built yet');
  },
});
