import { setTimeout as sleep } from 'node:timers/promises';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Counter } from 'prom-client';
import type { DataSource } from 'typeorm';
import { HubOutbox } from '../../entities/hub/hub-outbox.entity';
import type { OutboxStatus } from '../../entities/hub/hub-outbox.entity';
import { sweeperRestored, sweeperRuns } from '../../lib/metrics';
import { closeRedis, createRedis } from '../../lib/redis';
import { parseBeijing } from '../../lib/time';
import { markOutboxDone, markOutboxFailed, outboxIdOf } from '../../workers/outbox-finish';
import { createOutboxRelay, type OutboxRelay } from '../../workers/outbox-relay';
import { outboxJobId } from '../../workers/outbox-rows';
import { outboxSweeper } from '../../workers/outbox-sweeper';
import type { QueueName } from '../../lib/queue-names';
import { QueueSet } from '../../workers/queues';
import { startSweepers, sweeperLockKey, sweepOnce, type SweepDeps, type Sweeper } from '../../workers/sweeper';
import { clearTables, openTestDataSource } from '../support/db';
import { testConfig } from '../support/env';
import { outboxTestRegistry } from '../support/outbox-jobs';
import { captureLogger } from '../support/logs';
import { openPrivateQueueStore, type PrivateQueueStore, type PrivateRedis } from '../support/private-redis';
import { testPrefix } from '../support/queues';
import { track } from '../support/resources';
import { until } from '../support/wait';
import { RedisKeys } from '../../lib/redis-keys';

const NOW = parseBeijing('2026-11-23 10:00:00');
const LATER = new Date(NOW.getTime() + 60_000);

const registry = outboxTestRegistry;

const sum = async (counter: Counter<string>, labels: Record<string, string>): Promise<number> =>
  (await counter.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
const runs = (outcome: string, sweeper = 'outbox'): Promise<number> => sum(sweeperRuns, { sweeper, outcome });
const restoredTotal = (): Promise<number> => sum(sweeperRestored, { sweeper: 'outbox' });

// Every test flushes Redis: a server of this file's own, never the shared one.
describe('sweepers, on a private Redis', () => {
  const prefix = testPrefix(__filename);
  let db: DataSource;
  let store: PrivateQueueStore;
  let privateRedis: PrivateRedis;
  let producer: Redis;
  let queues: QueueSet;
  let logs: ReturnType<typeof captureLogger>;
  let relay: OutboxRelay;
  let deps: SweepDeps;

  type NewRow = { jobName: string; payload: object; status?: OutboxStatus };
  const insert = async (rows: NewRow[]): Promise<string[]> =>
    (await db.getRepository(HubOutbox).insert(rows)).identifiers.map((i) => String(i.id));
  const row = (id: string): Promise<HubOutbox> => db.getRepository(HubOutbox).findOneByOrFail({ id });
  const jobOf = async (queue: QueueName, id: string) => {
    const job = await queues.get(queue).getJob(outboxJobId(id));
    return job && { name: job.name, data: job.data as unknown, attempts: job.opts.attempts, state: await job.getState() };
  };
  const jobsIn = async (queue: QueueName): Promise<number> => {
    const counts = await queues.get(queue).getJobCounts();
    return Object.values(counts).reduce((s, n) => s + n, 0);
  };

  beforeAll(async () => {
    db = await openTestDataSource(testConfig());
    store = await openPrivateQueueStore(prefix);
    ({ server: privateRedis, producer, queues } = store);
  });
  afterAll(async () => {
    await store.close();
    await clearTables(db, [HubOutbox]);
    await db.destroy();
  });
  beforeEach(async () => {
    await clearTables(db, [HubOutbox]);
    await producer.flushall();
    logs = captureLogger('debug');
    deps = { db, redis: producer, queues, registry, log: logs.log, now: () => NOW };
    relay = createOutboxRelay({ db, registry, queues, log: logs.log, now: () => NOW }, { pollMs: 1_000 });
  });

  it('adds the jobs of ENQUEUED rows lost from Redis again, under the same ids with the same data', async () => {
    const ids = await insert([
      { jobName: 'test-tidy-up', payload: {} },
      { jobName: 'test-tidy-up', payload: { batchSize: 10 } },
      { jobName: 'test-welcome-email', payload: { userId: 7 } },
    ]);
    const [a, b, c] = ids as [string, string, string];
    expect((await relay.relayOnce()).enqueued).toEqual(ids);
    const jobs = async () => [await jobOf('messages', a), await jobOf('messages', b), await jobOf('email', c)];
    const before = await jobs();
    expect(before.map((j) => j?.state)).toEqual(['waiting', 'waiting', 'waiting']);

    await producer.flushall();
    expect(await jobs()).toEqual([undefined, undefined, undefined]);
    const [restoredBefore, sweptBefore] = [await restoredTotal(), await runs('swept')];
    expect(await sweepOnce(deps, outboxSweeper)).toBe(3);

    expect(await jobs()).toEqual(before);
    expect(before[2]).toMatchObject({ name: 'test-welcome-email', data: { userId: 7, locale: 'zh-CN' } });
    for (const id of ids) expect(await row(id)).toMatchObject({ status: 'ENQUEUED', jobId: outboxJobId(id), attempts: 2, updatedTime: NOW });
    expect([(await restoredTotal()) - restoredBefore, (await runs('swept')) - sweptBefore]).toEqual([3, 1]);
    expect(logs.lines()).toContainEqual(expect.objectContaining({ level: 'info', sweeper: 'outbox', restored: 3 }));

    expect(await sweepOnce(deps, outboxSweeper)).toBe(0);
    for (const id of ids) expect((await row(id)).attempts).toBe(2);
    expect([await jobsIn('messages'), await jobsIn('email')]).toEqual([2, 1]);
  });

  it('never runs finished work again: rows DONE while their job was active stay done after a flush', async () => {
    const ids = await insert([...Array.from({ length: 4 }, () => ({ jobName: 'test-tidy-up', payload: {} })), { jobName: 'test-welcome-email', payload: { userId: 1 } }]);
    const email = ids.at(-1) as string;
    await relay.relayOnce();

    const ran: string[] = [];
    const connection = track({ kind: 'redis', value: createRedis(privateRedis.url, 'worker', 'jobhub-test') });
    // Only the messages queue runs: the email job stays unfinished, the one row the sweeper must restore.
    const worker = track({
      kind: 'worker',
      value: new Worker(
        'messages',
        async (job) => {
          const outboxId = outboxIdOf(job.id);
          if (outboxId === undefined) throw new Error(`not an outbox job: ${job.id}`);
          ran.push(outboxId);
          await markOutboxDone(db, outboxId, LATER); // as the runner does: while the job is still active
        },
        { connection, prefix },
      ),
    });
    try {
      await until('4 completed jobs', async () => (await queues.get('messages').getJobCountByTypes('completed')) === 4);
    } finally {
      await worker.close();
      await closeRedis(connection);
    }
    for (const id of ids.slice(0, 4)) expect(await row(id)).toMatchObject({ status: 'DONE', updatedTime: LATER });

    await producer.flushall();
    expect(await sweepOnce(deps, outboxSweeper)).toBe(1);
    expect(await jobsIn('messages')).toBe(0);
    expect((await jobOf('email', email))?.state).toBe('waiting');
    expect(ran.sort()).toEqual(ids.slice(0, 4).sort());
  });

  it('fails a row whose lost job names an unknown job or now has an invalid payload, and leaves rows whose job exists', async () => {
    const [unknown, invalid, good, kept] = (await insert([
      { jobName: 'no-such-job', payload: {}, status: 'ENQUEUED' },
      { jobName: 'test-tidy-up', payload: { batchSize: 'lots' }, status: 'ENQUEUED' },
      { jobName: 'test-tidy-up', payload: { batchSize: 3 }, status: 'ENQUEUED' },
      { jobName: 'test-tidy-up', payload: { batchSize: 'lots' }, status: 'ENQUEUED' },
    ])) as [string, string, string, string];
    // Its job is still in Redis: the sweeper never judges a payload whose job exists.
    await queues.get('messages').add('test-tidy-up', { batchSize: 'lots' }, { jobId: outboxJobId(kept) });

    expect(await sweepOnce(deps, outboxSweeper)).toBe(1);
    expect(await row(unknown)).toMatchObject({ status: 'FAILED', attempts: 1, lastError: 'no job named "no-such-job" in this hub', updatedTime: NOW });
    expect(await row(invalid)).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect((await row(invalid)).lastError).toMatch(/^invalid payload for test-tidy-up: batchSize: .*expected number/);
    expect(await row(good)).toMatchObject({ status: 'ENQUEUED', attempts: 1, lastError: null });
    expect((await jobOf('messages', good))?.data).toEqual({ batchSize: 3 });
    expect(await row(kept)).toMatchObject({ status: 'ENQUEUED', attempts: 0 });
    expect(await jobOf('messages', invalid)).toBeUndefined();
    expect(logs.lines().filter((l) => l.level === 'warn').map((l) => l.outboxId)).toEqual([unknown, invalid]);
  });

  it('fails a row whose job failed for good while the row could not be marked (MySQL down then), with the job\'s reason', async () => {
    const [failedRow, delayed] = (await insert([
      { jobName: 'test-tidy-up', payload: { batchSize: 3 }, status: 'ENQUEUED' },
      { jobName: 'test-tidy-up', payload: { batchSize: 3 }, status: 'ENQUEUED' },
    ])) as [string, string];
    const queue = queues.get('messages');
    await queue.add('test-tidy-up', { batchSize: 3 }, { jobId: outboxJobId(failedRow), attempts: 1 });
    await queue.add('test-tidy-up', { batchSize: 3 }, { jobId: outboxJobId(delayed), delay: 600_000 });
    const connection = track({ kind: 'redis', value: createRedis(privateRedis.url, 'worker', 'jobhub-test') });
    // No runner here: nothing marks the row, as when the runner's write met MySQL down.
    const worker = track({
      kind: 'worker',
      value: new Worker('messages', () => Promise.reject(new Error('the vendor refused it')), { connection, prefix }),
    });
    try {
      await until('the job failed for good', async () => (await queue.getFailedCount()) === 1);
    } finally {
      await worker.close();
      await closeRedis(connection);
    }
    expect(await sweepOnce(deps, outboxSweeper)).toBe(0);
    expect(await row(failedRow)).toMatchObject({ status: 'FAILED', attempts: 1, lastError: 'job failed: the vendor refused it', updatedTime: NOW });
    expect(await row(delayed)).toMatchObject({ status: 'ENQUEUED', attempts: 0, lastError: null });
    expect(logs.lines().filter((l) => l.level === 'warn').map((l) => l.outboxId)).toEqual([failedRow]);
  });

  it('walks every batch of 500 by primary key, and stops between batches once aborted', async () => {
    const ids = await insert(Array.from({ length: 1_201 }, (_, i) => ({ jobName: 'test-tidy-up', payload: { batchSize: i + 1 }, status: 'ENQUEUED' as const })));
    const aborted = new AbortController();
    aborted.abort();
    expect(await outboxSweeper.sweep({ ...deps, signal: aborted.signal, periodMs: outboxSweeper.everyMs })).toBe(0);

    expect(await sweepOnce(deps, outboxSweeper)).toBe(1_201);
    expect(await jobsIn('messages')).toBe(1_201);
    expect((await jobOf('messages', ids.at(-1) as string))?.data).toEqual({ batchSize: 1_201 });
    expect(await db.getRepository(HubOutbox).countBy({ attempts: 1 })).toBe(1_201);
  });

  it('sweeps once per period across processes: the Redis lock lets one pass through', async () => {
    const ids = await insert([
      { jobName: 'test-tidy-up', payload: {} },
      { jobName: 'test-welcome-email', payload: { userId: 2 } },
    ]);
    await relay.relayOnce();
    await producer.flushall();
    const counts = async () => [await runs('swept'), await runs('skipped_locked'), await restoredTotal()];

    let before = await counts();
    const results = await Promise.all([sweepOnce(deps, outboxSweeper, { lock: true }), sweepOnce(deps, outboxSweeper, { lock: true })]);
    expect(results.sort()).toEqual([0, 2]);
    expect((await counts()).map((n, i) => n - (before[i] as number))).toEqual([1, 1, 2]);
    const lockKey = sweeperLockKey(new RedisKeys(prefix), { name: 'outbox', queue: 'ops' });
    expect(await producer.get(lockKey)).toContain(`:${process.pid}:`);
    expect(await producer.pttl(lockKey)).toBeGreaterThan(50_000); // held for the period, everyMs 60 s

    // Two loops, as two worker processes would run them, starting together.
    await producer.flushall();
    before = await counts();
    const loops = [startSweepers(deps, [outboxSweeper], { firstDelayMs: 0 }), startSweepers(deps, [outboxSweeper], { firstDelayMs: 0 })];
    try {
      await until('both loops tried', async () => (await runs('swept')) + (await runs('skipped_locked')) - (before[0] as number) - (before[1] as number) >= 2);
    } finally {
      await Promise.all(loops.map((l) => l.stop()));
    }
    expect((await counts()).map((n, i) => n - (before[i] as number))).toEqual([1, 1, 2]);
    for (const id of ids) expect((await row(id)).attempts).toBe(3);
  });

  it('logs a failing pass and tries again next period', async () => {
    let calls = 0;
    const flaky: Sweeper = {
      name: 'test-flaky',
      queue: 'ops',
      everyMs: 20,
      sweep: async () => {
        calls += 1;
        if (calls === 1) throw new Error('pass broke');
        return 0;
      },
    };
    const [errors, swept] = [await runs('error', 'test-flaky'), await runs('swept', 'test-flaky')];
    const loop = startSweepers(deps, [flaky], { firstDelayMs: 0 });
    try {
      await until('a pass after the failed one', () => calls >= 2);
    } finally {
      await loop.stop();
    }
    expect((await runs('error', 'test-flaky')) - errors).toBe(1);
    expect((await runs('swept', 'test-flaky')) - swept).toBeGreaterThanOrEqual(1);
    const warning = logs.lines().find((l) => l.level === 'warn');
    expect(warning).toMatchObject({ sweeper: 'test-flaky', msg: 'sweep failed: tried again next period', err: expect.objectContaining({ message: 'pass broke' }) });
  });

  it('stop() aborts the signal and waits for the pass in flight', async () => {
    let signal: AbortSignal | undefined;
    let finished = false;
    const slow: Sweeper = {
      name: 'test-slow',
      queue: 'ops',
      everyMs: 60_000,
      sweep: async (scope) => {
        signal = scope.signal;
        await new Promise((resolve) => scope.signal.addEventListener('abort', resolve, { once: true }));
        await new Promise((resolve) => setTimeout(resolve, 50));
        finished = true;
        return 0;
      },
    };
    const loop = startSweepers(deps, [slow], { firstDelayMs: 0 });
    await until('the pass started', () => signal !== undefined);
    await loop.stop();
    expect(finished).toBe(true);
    expect(signal?.aborted).toBe(true);
    expect(() => startSweepers(deps, [slow, slow])).toThrow('sweeper test-slow is registered twice');
  });

  it('marks a row DONE or FAILED only from PENDING or ENQUEUED, never over an outcome', async () => {
    const statuses: OutboxStatus[] = ['PENDING', 'ENQUEUED', 'DONE', 'FAILED'];
    const forDone = await insert(statuses.map((status) => ({ jobName: 'test-tidy-up', payload: {}, status })));
    const forFailed = await insert(statuses.map((status) => ({ jobName: 'test-tidy-up', payload: {}, status })));
    const snapshot = async (ids: string[]) => Promise.all(ids.map(row));
    const [doneBefore, failedBefore] = [await snapshot(forDone), await snapshot(forFailed)];

    for (const id of forDone) await markOutboxDone(db, id, LATER);
    for (const id of forFailed) await markOutboxFailed(db, id, `gave up: ${'x'.repeat(1_500)}`, LATER);

    const [doneAfter, failedAfter] = [await snapshot(forDone), await snapshot(forFailed)];
    for (const i of [0, 1]) {
      expect(doneAfter[i]).toMatchObject({ status: 'DONE', updatedTime: LATER, lastError: null });
      expect(failedAfter[i]).toMatchObject({ status: 'FAILED', updatedTime: LATER });
      expect([...(failedAfter[i]?.lastError ?? '')]).toHaveLength(1_000);
      expect(failedAfter[i]?.lastError).toMatch(/^gave up: x+$/);
    }
    for (const i of [2, 3]) {
      expect(doneAfter[i]).toEqual(doneBefore[i]);
      expect(failedAfter[i]).toEqual(failedBefore[i]);
    }
  });

  it('marks DONE a row whose job finished before the relay committed: it waits for the relay and sees ENQUEUED', async () => {
    const [id] = await insert([{ jobName: 'test-tidy-up', payload: {}, status: 'PENDING' }]);
    if (!id) throw new Error('no row');
    const runner = db.createQueryRunner();
    await runner.connect();
    try {
      // The relay's transaction: the row claimed FOR UPDATE, the job added, the commit still to come.
      await runner.startTransaction('READ COMMITTED');
      await runner.query('SELECT id FROM hub_outbox WHERE id = ? FOR UPDATE', [id]);
      const marking = markOutboxDone(db, id, LATER);
      await sleep(200);
      await runner.query("UPDATE hub_outbox SET status = 'ENQUEUED' WHERE id = ?", [id]);
      await runner.commitTransaction();
      await marking;
    } finally {
      await runner.release();
    }
    expect(await row(id)).toMatchObject({ status: 'DONE' });
  });

  it('reads the outbox row id only from a job id outbox-<id>', () => {
    expect(outboxIdOf('outbox-12')).toBe('12');
    expect(outboxIdOf('outbox-18446744073709551615')).toBe('18446744073709551615');
    for (const id of [undefined, '', '12', 'outbox-', 'outbox-0', 'outbox-012', 'outbox-12x', 'xoutbox-12', 'outbox--1', 'sms-code-cleanup@202611231000']) {
      expect(outboxIdOf(id)).toBeUndefined();
    }
  });
});
