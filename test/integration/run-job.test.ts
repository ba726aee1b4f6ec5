import type { Job, JobsOptions, QueueEvents } from 'bullmq';
import { z } from 'zod';
import { HubCursor } from '../../entities/hub/hub-cursor.entity';
import { smsCodeCleanup } from '../../jobs/ops/sms-code-cleanup.job';
import { buildRegistry, defineJob, done, skipped, type JobResult } from '../../jobs/define-job';
import type { JobContext } from '../../jobs/context';
import { DeferredError, InvalidPayloadError, PermanentError, RateLimitedError, RetryableError, writeOnce } from '../../lib/errors';
import type { QueueName } from '../../lib/queue-names';
import type { WorkerPool } from '../../workers/start-workers';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';

/** When each job's handler started, by key: the ledger the assertions read. */
const starts = new Map<string, number[]>();
const started = (key: string): number[] => {
  const list = starts.get(key) ?? [];
  list.push(Date.now());
  starts.set(key, list);
  return list;
};

/** A job whose payload is `{ key }`, on the messages queue unless told: a queue whose jobs call no one outside account. */
const testJob = (name: string, handle: (key: string, ctx: JobContext) => Promise<JobResult>, options?: JobsOptions, queue: QueueName = 'messages') =>
  defineJob({ name, queue, description: name, payload: z.object({ key: z.string() }), options, handle: ({ key }, ctx) => handle(key, ctx) });

const flaky = testJob(
  'test-flaky',
  async (key) => {
    if (started(key).length <= 2) throw new RetryableError('vendor busy');
    return done('ok');
  },
  { attempts: 4, backoff: { type: 'fixed', delay: 300 } },
);

const throttledOnce = async (key: string): Promise<JobResult> => {
  if (started(key).length === 1) throw new RateLimitedError(700);
  return done('ok');
};
const startOnly = async (key: string): Promise<JobResult> => {
  started(key);
  return done('ok');
};
const throttled = testJob('test-throttled', throttledOnce);
/** The same pair on the email queue, whose jobs all call one outside account (the SMTP server). */
const throttledOnAccount = testJob('test-throttled-account', throttledOnce, undefined, 'email');
const quickOnAccount = testJob('test-quick-account', startOnly, undefined, 'email');

const deferred = testJob('test-deferred', async (key) => {
  if (started(key).length === 1) throw new DeferredError(Date.now() + 800, 'this phone is at its per-minute limit');
  return done('ok');
});

const permanent = testJob(
  'test-permanent',
  async (key) => {
    started(key);
    throw new PermanentError('REFUND_EXCEEDS_PAID', 'refund 200 fen > paid 100 fen');
  },
  { attempts: 5 },
);

const insertCursor = (key: string, ctx: JobContext) => () => ctx.db.getRepository(HubCursor).insert({ name: key, position: '1', updatedTime: ctx.now() });

/** Claims its idempotency key (hub_cursor's primary key): the second run finds it taken and skips. */
const claimOnce = testJob('test-claim-once', async (key, ctx) =>
  (await writeOnce('PRIMARY', insertCursor(key, ctx))) ? done('claimed') : skipped(`${key} already claimed`),
);

/** Inserts without claiming any key: a duplicate is a bug, as any other error. */
const unclaimed = testJob(
  'test-unclaimed-duplicate',
  async (key, ctx) => {
    await insertCursor(key, ctx)();
    return done('inserted');
  },
  { attempts: 2, backoff: { type: 'fixed', delay: 100 } },
);

/** Claims another key than the one its insert runs into. */
const claimsAnotherKey = testJob(
  'test-claims-another-key',
  async (key, ctx) => ((await writeOnce('uk_hub_cursor_elsewhere', insertCursor(key, ctx))) ? done('inserted') : skipped('not its key')),
  { attempts: 2, backoff: { type: 'fixed', delay: 100 } },
);

const quick = testJob('test-quick', startOnly);

/** A payload declared strict, as every job's is: its handler returns what it was given. */
const strict = defineJob({
  name: 'test-strict',
  queue: 'messages',
  description: 'test-strict',
  payload: z.strictObject({ key: z.string(), nested: z.strictObject({ n: z.number() }).optional() }),
  handle: async (p) => done(p),
});

/** Enqueues `strict` with a field it does not declare, as a careless producer would. */
const careless = testJob('test-careless-producer', async (key, ctx) => {
  const payload = { key, colour: 'red' };
  await ctx.enqueue(strict, payload);
  return done('enqueued');
});

describe('the job runner', () => {
  let hub: TestHub;
  let pool: WorkerPool;
  let events: QueueEvents;
  let accountEvents: QueueEvents;

  beforeAll(async () => {
    hub = await openTestHub(__filename, {
      registry: buildRegistry([flaky, throttled, throttledOnAccount, deferred, permanent, claimOnce, unclaimed, claimsAnotherKey, quick, strict, careless, quickOnAccount, smsCodeCleanup]),
    });
    events = await testQueueEvents('messages', hub.prefix);
    accountEvents = await testQueueEvents('email', hub.prefix);
    pool = hub.startWorkers(['messages', 'email']);
    await clearTables(hub.db, [HubCursor]);
  });
  afterAll(async () => {
    await events.close();
    await accountEvents.close();
    await clearTables(hub.db, [HubCursor]);
    await hub.close();
  });

  const finished = async (job: { id: string }, queue: 'messages' | 'email' = 'messages'): Promise<Job> => {
    const j = await hub.queues.get(queue).getJob(job.id);
    if (!j) throw new Error(`job ${job.id} vanished`);
    await j.waitUntilFinished(queue === 'email' ? accountEvents : events, 15_000).catch(() => undefined);
    const after = await hub.queues.get(queue).getJob(job.id);
    if (!after) throw new Error(`job ${job.id} vanished`);
    return after;
  };

  it('retries a RetryableError with backoff, using attempts', async () => {
    const job = await finished(await hub.enqueue(flaky, { key: 'flaky' }));
    expect(job.returnvalue).toEqual({ status: 'done', result: 'ok' });
    const times = starts.get('flaky') ?? [];
    expect(times).toHaveLength(3);
    for (let i = 1; i < times.length; i++) expect((times[i] as number) - (times[i - 1] as number)).toBeGreaterThanOrEqual(290);
    const baseline = await finished(await hub.enqueue(quick, { key: 'baseline' }));
    expect(job.attemptsMade).toBe(baseline.attemptsMade + 2);
    expect(hub.logText()).toMatch(/"job":"test-flaky".*"msg":"job attempt failed"/);
    expect(hub.logText()).not.toMatch(/"job":"test-flaky".*"msg":"job failed for good"/);
  });

  it('on a queue of one outside account, pauses the whole queue on RateLimitedError without using an attempt', async () => {
    const limited = await hub.enqueue(throttledOnAccount, { key: 'throttled-account' });
    await new Promise((r) => setTimeout(r, 100));
    const other = await hub.enqueue(quickOnAccount, { key: 'behind-the-limit' });
    const [limitedJob, otherJob] = [await finished(limited, 'email'), await finished(other, 'email')];
    const [first, second] = starts.get('throttled-account') ?? [];
    expect(limitedJob.returnvalue).toEqual({ status: 'done', result: 'ok' });
    expect((second as number) - (first as number)).toBeGreaterThanOrEqual(650);
    expect((otherJob.processedOn as number) - (first as number)).toBeGreaterThanOrEqual(500);
    expect(limitedJob.attemptsMade).toBe(otherJob.attemptsMade);
  });

  it('on a queue shared by several accounts, delays only the job that throws RateLimitedError, without using an attempt', async () => {
    const limited = await hub.enqueue(throttled, { key: 'throttled' });
    await new Promise((r) => setTimeout(r, 100));
    const other = await hub.enqueue(quick, { key: 'other-account' });
    const otherJob = await finished(other);
    const limitedJob = await finished(limited);
    const [first, second] = starts.get('throttled') ?? [];
    expect(limitedJob.returnvalue).toEqual({ status: 'done', result: 'ok' });
    expect((second as number) - (first as number)).toBeGreaterThanOrEqual(650);
    expect(otherJob.finishedOn as number).toBeLessThan(second as number);
    expect(limitedJob.attemptsMade).toBe(otherJob.attemptsMade);
    expect(hub.logText()).toMatch(/"job":"test-throttled".*"msg":"job rate limited: delayed"/);
  });

  it('delays only the job that throws DeferredError, without using an attempt', async () => {
    const waiting = await hub.enqueue(deferred, { key: 'deferred' });
    await new Promise((r) => setTimeout(r, 100));
    const other = await hub.enqueue(quick, { key: 'not-held-up' });
    const otherJob = await finished(other);
    const waitingJob = await finished(waiting);
    const [first, second] = starts.get('deferred') ?? [];
    expect(waitingJob.returnvalue).toEqual({ status: 'done', result: 'ok' });
    expect((second as number) - (first as number)).toBeGreaterThanOrEqual(750);
    expect(otherJob.finishedOn as number).toBeLessThan(second as number);
    expect(waitingJob.attemptsMade).toBe(otherJob.attemptsMade);
  });

  it('fails a PermanentError at once with its reason, whatever the attempts', async () => {
    const job = await finished(await hub.enqueue(permanent, { key: 'permanent' }));
    expect(await job.getState()).toBe('failed');
    expect(job.failedReason).toBe('REFUND_EXCEEDS_PAID: refund 200 fen > paid 100 fen');
    expect(starts.get('permanent')).toHaveLength(1);
    expect(hub.logText()).toMatch(/"job":"test-permanent".*"reason":"REFUND_EXCEEDS_PAID: [^"]*".*"msg":"job failed for good"/);
  });

  it('skips a duplicate of the idempotency key the handler claims', async () => {
    const first = await finished(await hub.enqueue(claimOnce, { key: 'order-42' }));
    const second = await finished(await hub.enqueue(claimOnce, { key: 'order-42' }));
    expect(first.returnvalue).toEqual({ status: 'done', result: 'claimed' });
    expect(second.returnvalue).toEqual({ status: 'skipped', reason: 'order-42 already claimed' });
    expect(await hub.db.getRepository(HubCursor).countBy({ name: 'order-42' })).toBe(1);
  });

  it('fails a duplicate on a key the handler did not claim, retried as any bug', async () => {
    await hub.db.getRepository(HubCursor).insert({ name: 'taken', position: '0', updatedTime: new Date() });
    for (const def of [unclaimed, claimsAnotherKey]) {
      const job = await finished(await hub.enqueue(def, { key: 'taken' }));
      expect(await job.getState()).toBe('failed');
      expect(job.failedReason).toMatch(/^Duplicate entry 'taken' for key '(hub_cursor\.)?PRIMARY'$/);
      expect(job.attemptsStarted).toBe(2);
      expect(hub.logText()).toMatch(new RegExp(`"job":"${def.name}".*"msg":"job failed unexpectedly"`));
    }
    expect(await hub.db.getRepository(HubCursor).findOneByOrFail({ name: 'taken' })).toMatchObject({ position: '0' });
  });

  it('fails an invalid payload added straight to BullMQ at once, naming the field and not the unknown ones beside it', async () => {
    const added = await hub.queues.get('messages').add('sms-code-cleanup', { batchSize: 'lots', addedLater: true }, { attempts: 5 });
    const job = await finished({ id: added.id as string });
    expect(await job.getState()).toBe('failed');
    expect(job.failedReason).toMatch(/^INVALID_PAYLOAD: batchSize: .*expected number[^;]*$/);
    expect(job.attemptsStarted).toBe(1);
  });

  it('runs a job from a newer producer, ignoring its unknown fields and saying so once per job name and fields', async () => {
    const newer = (key: string, extra: Record<string, unknown>) => hub.queues.get('messages').add('test-strict', { key, nested: { n: 1, unit: 'kg' }, ...extra });
    const jobs = [await newer('newer-1', { addedLater: true }), await newer('newer-2', { addedLater: false }), await newer('newer-3', { other: 1 })];
    for (const added of jobs) {
      const job = await finished({ id: added.id as string });
      expect(job.returnvalue).toEqual({ status: 'done', result: { key: added.data.key, nested: { n: 1 } } });
    }
    const warnings = hub.logText().match(/"job":"test-strict".*"ignoredFields":\[[^\]]*\].*"msg":"payload fields unknown to this version ignored[^\n]*/g) ?? [];
    expect(warnings.map((w) => /"ignoredFields":(\[[^\]]*\])/.exec(w)?.[1])).toEqual(['["addedLater","nested.unit"]', '["nested.unit","other"]']);
  });

  it('ctx.enqueue refuses an unknown field, naming it: the producing job fails at once', async () => {
    const job = await finished(await hub.enqueue(careless, { key: 'careless' }));
    expect(await job.getState()).toBe('failed');
    expect(job.failedReason).toBe('INVALID_PAYLOAD: (payload): Unrecognized key: "colour"');
    expect(job.attemptsStarted).toBe(1);
  });

  it('fails a job name this hub does not know at once', async () => {
    const added = await hub.queues.get('messages').add('no-such-job', {}, { attempts: 5 });
    const job = await finished({ id: added.id as string });
    expect(job.failedReason).toBe('UNKNOWN_JOB: no job named "no-such-job" in this hub');
    expect(job.attemptsStarted).toBe(1);
  });

  it('refuses to enqueue an invalid payload or an unsafe job id', async () => {
    await expect(hub.enqueue(smsCodeCleanup, { batchSize: 0 })).rejects.toThrow(InvalidPayloadError);
    await expect(hub.enqueue(smsCodeCleanup, { batchSize: 0 })).rejects.toThrow(/^batchSize: /);
    await expect(hub.enqueue(quick, { key: 'x' }, { jobId: 'a:b' })).rejects.toThrow('must be 1-512 characters, contain no ":"');
    await expect(hub.enqueue(quick, { key: 'x' }, { jobId: '123' })).rejects.toThrow('not be a bare integer');
  });

  it('adds a deterministic job id once', async () => {
    const a = await hub.enqueue(quick, { key: 'once' }, { jobId: 'quick-once' });
    const b = await hub.enqueue(quick, { key: 'once' }, { jobId: 'quick-once' });
    expect(a.id).toBe('quick-once');
    expect(b.id).toBe('quick-once');
    await finished(a);
    expect(starts.get('once')).toHaveLength(1);
    expect(pool.workers).toHaveLength(2); // one per queue: messages and email
  });
});
