import { z } from 'zod';
import { defineJob, skipped } from './define-job';

export const groupBuyFillRobots = defineJob({
  name: 'group-buy-fill-robots',
  queue: 'marketing',
  description: 'Fill OPEN teams near expiry with robots where the rule allows, then mark them SUCCESS',
  payload: z.strictObject({}),
  async handle() {
    return skipped('not built yet');
  },
});
