import { z } from 'zod';
import { defineJob, skipped } from './define-job';

export const groupBuyCloseTeams = defineJob({
  name: 'group-buy-close-teams',
  queue: 'marketing',
  description: 'Fail OPEN teams past expiry (refund paid members, cancel robots); close events past end_time',
  payload: z.strictObject({}),
  async handle() {
    return skipped('not built yet');
  },
});
