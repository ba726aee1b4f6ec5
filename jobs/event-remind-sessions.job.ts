import { z } from 'zod';
import { defineJob, skipped } from './define-job';

export const eventRemindSessions = defineJob({
  name: 'event-remind-sessions',
  queue: 'marketing',
  description: 'Remind event orders before their session starts, once per order',
  payload: z.strictObject({}),
  async handle() {
    return skipped('not built yet');
  },
});
