import { z } from 'zod';
import { smsCodeCleanup } from '../../jobs';
import { buildRegistry, defineJob, done } from '../../jobs/define-job';

/** A second job on another queue, so outbox rows are seen to go to their own job's queue. */
export const welcomeEmail = defineJob({
  name: 'test-welcome-email',
  queue: 'email',
  description: 'test job on the email queue',
  payload: z.object({ userId: z.number().int(), locale: z.enum(['zh-CN', 'en']).default('zh-CN') }),
  handle: async () => done('sent'),
});

/** What the outbox tests relay and sweep: a real job on `messages` and the test one on `email`. */
export const outboxTestRegistry = buildRegistry([smsCodeCleanup, welcomeEmail]);
