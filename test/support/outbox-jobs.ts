import { z } from 'zod';
import { hubCanary } from '../../jobs/ops/hub-canary.job';
import { buildRegistry, defineJob, done } from '../../jobs/define-job';

/**
 * A business job on `messages`, shaped as the housekeeping jobs are (a batch size with a default,
 * the job's own attempts). Not a real one: sms-code-cleanup, which these tests used, is an ops job
 * now, and the outbox enqueues business jobs only.
 */
export const tidyUp = defineJob({
  name: 'test-tidy-up',
  queue: 'messages',
  description: 'test job on the messages queue',
  payload: z.strictObject({ batchSize: z.number().int().min(1).max(10_000).default(5_000) }),
  options: { attempts: 3 },
  handle: async () => done({ deleted: 0 }),
});

/** A second job on another queue, so outbox rows are seen to go to their own job's queue. */
export const welcomeEmail = defineJob({
  name: 'test-welcome-email',
  queue: 'email',
  description: 'test job on the email queue',
  payload: z.object({ userId: z.number().int(), locale: z.enum(['zh-CN', 'en']).default('zh-CN') }),
  handle: async () => done('sent'),
});

/** What the outbox tests relay and sweep: the test jobs on `messages` and `email`, and an ops job the outbox refuses. */
export const outboxTestRegistry = buildRegistry([tidyUp, welcomeEmail, hubCanary]);
