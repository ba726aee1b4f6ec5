import { z } from 'zod';
import { defineJob, skipped } from './define-job';

export const groupBuyRemind = defineJob({
  name: 'group-buy-remind',
  queue: 'marketing',
  description: 'Remind group-buy members per the event remind_hours / remind_time_type, once per order',
  payload: z.strictObject({}),
  async handle() {
    return skipped('not built yet');
  },
});
