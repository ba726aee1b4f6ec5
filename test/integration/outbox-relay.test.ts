import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { HubOutbox } from '../../entities/hub/hub-outbox.entity';
import { outboxRows } from '../../lib/metrics';
import { closeRedis, waitForRedis } from '../../lib/redis';
import { parseBeijing } from '../../lib/time';
import { createOutboxRelay, startOutboxRelay, type OutboxRelay } from '../../workers/outbox-relay';
import { QueueSet } from '../../workers/queues';
import { clearTables, openTestDataSource } from '../support/db';
import { testConfig } from '../support/env';
import { outboxTestRegistry } from '../support/outbox-jobs';
import { captureLogger } from '../support/logs';
import { openPrivateQueueStore, type PrivateQueueStore, type PrivateRedis } from '../support/private-redis';
import { deletePrefix, testPrefix, testRedis } from '../support/queues';
import { until } from '../support/wait';

const NOW = parseBeijing('2026-11-23 10:00:00');

const registry = outboxTestRegistry;

const enqueuedTotal = async (): Promise<number> =>
  (await outboxRows.get()).values.filter((v) => v.labels.outcome === 'enqueued').reduce((sum, v) => sum + v.value, 0);

describe('the outbox relay', () => {
  const prefix = testPrefix(__filename);
  let db: DataSource;
  let redis: Redis;
  let queues: QueueSet;
  let clock: Date;
  let logs: ReturnType<typeof captureLogger>;
  let relay: OutboxRelay;

  const insert = async (rows: { jobName: string; payload: object; runAt?: Date }[]): Promise<string[]> => {
    const result = await db.getRepository(HubOutbox).insert(rows);
    return result.identifiers.map((i) => String(i.id));
  };
  const row = async (id: string): Promise<HubOutbox> => db.getRepository(HubOutbox).findOneByOrFail({ id });

  beforeAll(async () => {
    db = await openTestDataSource(testConfig());
    redis = await testRedis();
    queues = new QueueSet(redis, prefix);
  });
  afterAll(async () => {
    await relay.stop();
    await queues.close();
    await deletePrefix(redis, prefix);
    await closeRedis(redis);
    await clearTables(db, [HubOutbox]);
    await db.destroy();
  });
  beforeEach(async () => {
    await relay?.stop();
    await clearTables(db, [HubOutbox]);
    await deletePrefix(redis, prefix);
    clock = NOW;
    logs = captureLogger('debug');
    relay = createOutboxRelay({ db, registry, queues, log: logs.log, now: () => clock }, { pollMs: 1_000 });
  });

  it('enqueues due rows as outbox-<id> into their job queue with the validated payload, and marks them ENQUEUED', async () => {
    const before = await enqueuedTotal();
    const [plain, sized, email, past] = await insert([
      { jobName: 'test-tidy-up', payload: {} },
      { jobName: 'test-tidy-up', payload: { batchSize: 10 } },
      { jobName: 'test-welcome-email', payload: { userId: 7 } },
      { jobName: 'test-tidy-up', payload: { batchSize: 20 }, runAt: new Date(NOW.getTime() - 1) },
    ]);
    const report = await relay.relayOnce();
    expect(report).toEqual({ claimed: 4, enqueued: [plain, sized, email, past], failed: [], deferred: [] });

    const messages = queues.get('messages');
    expect((await messages.getJob(`outbox-${plain}`))?.data).toEqual({ batchSize: 5_000 });
    expect((await messages.getJob(`outbox-${sized}`))?.data).toEqual({ batchSize: 10 });
    expect((await messages.getJob(`outbox-${past}`))?.name).toBe('test-tidy-up');
    expect(await messages.getJob(`outbox-${email}`)).toBeUndefined();
    const emailJob = await queues.get('email').getJob(`outbox-${email}`);
    expect({ name: emailJob?.name, data: emailJob?.data }).toEqual({ name: 'test-welcome-email', data: { userId: 7, locale: 'zh-CN' } });
    expect((await messages.getJob(`outbox-${plain}`))?.opts.attempts).toBe(3); // the job's own options

    for (const id of [plain, sized, email, past] as string[]) {
      expect(await row(id)).toMatchObject({ status: 'ENQUEUED', jobId: `outbox-${id}`, attempts: 1, lastError: null, updatedTime: NOW });
    }
    expect((await enqueuedTotal()) - before).toBe(4);
    expect(logs.lines()).toContainEqual(expect.objectContaining({ level: 'info', claimed: 4, enqueued: 4, failed: 0 }));
  });

  it('leaves a row PENDING until now reaches its run_at', async () => {
    const [later] = (await insert([{ jobName: 'test-tidy-up', payload: {}, runAt: new Date(NOW.getTime() + 60_000) }])) as [string];
    expect(await relay.relayOnce()).toEqual({ claimed: 0, enqueued: [], failed: [], deferred: [] });
    expect(await row(later)).toMatchObject({ status: 'PENDING', attempts: 0, jobId: null });
    expect(await queues.get('messages').getJob(`outbox-${later}`)).toBeUndefined();

    clock = new Date(NOW.getTime() + 59_999);
    expect((await relay.relayOnce()).claimed).toBe(0);
    clock = new Date(NOW.getTime() + 60_000);
    expect((await relay.relayOnce()).enqueued).toEqual([later]);
    expect(await row(later)).toMatchObject({ status: 'ENQUEUED', attempts: 1 });
    expect(await queues.get('messages').getJob(`outbox-${later}`)).toBeDefined();
  });

  it('marks unknown jobs and invalid payloads FAILED with the reason, never logging the payload', async () => {
    const manyKeys = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`unexpected_field_${i}`, 1]));
    const [unknown, invalid, tooLong, good] = (await insert([
      { jobName: 'no-such-job', payload: { note: 'secret-payload-text' } },
      { jobName: 'test-tidy-up', payload: { batchSize: 'lots' } },
      { jobName: 'test-tidy-up', payload: manyKeys },
      { jobName: 'test-tidy-up', payload: {} },
    ])) as [string, string, string, string];
    const report = await relay.relayOnce();
    expect(report).toEqual({ claimed: 4, enqueued: [good], failed: [unknown, invalid, tooLong], deferred: [] });

    expect(await row(unknown)).toMatchObject({ status: 'FAILED', attempts: 1, jobId: null, lastError: 'no job named "no-such-job" in this hub' });
    expect((await row(invalid)).lastError).toMatch(/^invalid payload for test-tidy-up: batchSize: .*expected number/);
    const long = await row(tooLong);
    expect(long.status).toBe('FAILED');
    expect(long.lastError).toMatch(/unexpected_field_0/);
    expect([...(long.lastError ?? '')]).toHaveLength(1_000);
    for (const id of [unknown, invalid, tooLong]) expect(await queues.get('messages').getJob(`outbox-${id}`)).toBeUndefined();

    const warnings = logs.lines().filter((l) => l.level === 'warn');
    expect(warnings.map((w) => w.outboxId)).toEqual([unknown, invalid, tooLong]);
    expect(warnings[0]?.reason).toBe('no job named "no-such-job" in this hub');
    expect(logs.text()).not.toContain('secret-payload-text');
  });

  it('marks a row naming an ops job FAILED: other systems enqueue business jobs only', async () => {
    const [canary, tidy] = (await insert([
      { jobName: 'hub-canary', payload: { key: 'from-outbox', holdMs: 600_000 } },
      { jobName: 'test-tidy-up', payload: {} },
    ])) as [string, string];
    expect(await relay.relayOnce()).toEqual({ claimed: 2, enqueued: [tidy], failed: [canary], deferred: [] });
    expect(await row(canary)).toMatchObject({ status: 'FAILED', attempts: 1, jobId: null, lastError: 'hub-canary is an ops job: the outbox enqueues business jobs only' });
    expect(await queues.get('ops').count()).toBe(0);
  });

  it('changes nothing when run again', async () => {
    await insert([
      { jobName: 'test-tidy-up', payload: {} },
      { jobName: 'no-such-job', payload: {} },
      { jobName: 'test-welcome-email', payload: { userId: 1 } },
    ]);
    expect((await relay.relayOnce()).claimed).toBe(3);
    const rows = await db.getRepository(HubOutbox).find({ order: { id: 'ASC' } });
    const counts = [await queues.get('messages').getJobCounts(), await queues.get('email').getJobCounts()];
    clock = new Date(NOW.getTime() + 3_600_000);
    expect(await relay.relayOnce()).toEqual({ claimed: 0, enqueued: [], failed: [], deferred: [] });
    expect(await db.getRepository(HubOutbox).find({ order: { id: 'ASC' } })).toEqual(rows);
    expect([await queues.get('messages').getJobCounts(), await queues.get('email').getJobCounts()]).toEqual(counts);
  });

  it('relays in its own loop, at once again while batches come back full, until stopped', async () => {
    const ids = await insert(Array.from({ length: 7 }, () => ({ jobName: 'test-tidy-up', payload: {} })));
    const looping = startOutboxRelay({ db, registry, queues, log: logs.log, now: () => clock }, { pollMs: 60_000, batchSize: 2 });
    try {
      // pollMs is a minute: only the "full batch: again at once" rule gets all 7 rows out in time.
      // On a timeout, carry on: the assertion below names the rows left behind.
      await until('no PENDING rows', async () => (await db.getRepository(HubOutbox).countBy({ status: 'PENDING' })) === 0).catch(() => undefined);
    } finally {
      await looping.stop();
    }
    const rows = await db.getRepository(HubOutbox).find({ order: { id: 'ASC' } });
    expect(rows.map((r) => [r.id, r.status, r.attempts])).toEqual(ids.map((id) => [id, 'ENQUEUED', 1]));
  });

  describe('while Redis is down', () => {
    let store: PrivateQueueStore;
    let privateRedis: PrivateRedis;
    let producer: Redis;
    let privateQueues: QueueSet;

    beforeAll(async () => {
      store = await openPrivateQueueStore(prefix);
      ({ server: privateRedis, producer, queues: privateQueues } = store);
    });
    afterAll(() => store.close());

    it('keeps the rows PENDING with the error and attempts recorded, and enqueues them once Redis is back', async () => {
      relay = createOutboxRelay({ db, registry, queues: privateQueues, log: logs.log, now: () => clock }, { pollMs: 1_000 });
      const [first] = (await insert([{ jobName: 'test-tidy-up', payload: {} }])) as [string];
      expect((await relay.relayOnce()).enqueued).toEqual([first]);

      await privateRedis.stop();
      const [a, b, bad] = (await insert([
        { jobName: 'test-tidy-up', payload: {} },
        { jobName: 'test-welcome-email', payload: { userId: 3 } },
        { jobName: 'no-such-job', payload: {} },
      ])) as [string, string, string];
      for (let attempt = 1; attempt <= 2; attempt++) {
        clock = new Date(NOW.getTime() + attempt * 1_000);
        expect(await relay.relayOnce()).toEqual({ claimed: 3, enqueued: [], failed: [], deferred: [a, b] });
        for (const id of [a, b]) {
          const pending = await row(id);
          expect(pending).toMatchObject({ status: 'PENDING', attempts: attempt, jobId: null, updatedTime: clock });
          expect(pending.lastError).toMatch(/^enqueue failed: \S/);
        }
        // The whole batch rolled back: the bad row is judged again once Redis is back.
        expect(await row(bad)).toMatchObject({ status: 'PENDING', attempts: 0 });
      }
      expect(await row(first)).toMatchObject({ status: 'ENQUEUED', attempts: 1 });
      expect(logs.lines()).toContainEqual(expect.objectContaining({ level: 'warn', rows: 2, msg: 'Redis refused the outbox batch: rows stay PENDING' }));

      await privateRedis.start();
      await waitForRedis(producer, 15_000);
      expect(await relay.relayOnce()).toEqual({ claimed: 3, enqueued: [a, b], failed: [bad], deferred: [] });
      expect(await row(a)).toMatchObject({ status: 'ENQUEUED', attempts: 3, jobId: `outbox-${a}` });
      expect(await row(bad)).toMatchObject({ status: 'FAILED', attempts: 1 });
      expect((await privateQueues.get('messages').getJob(`outbox-${a}`))?.data).toEqual({ batchSize: 5_000 });
      expect((await privateQueues.get('email').getJob(`outbox-${b}`))?.data).toEqual({ userId: 3, locale: 'zh-CN' });
    });
  });
});
