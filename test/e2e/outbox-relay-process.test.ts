import type { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { HubOutbox } from '../../entities';
import { closeRedis } from '../../lib/redis';
import { QueueSet } from '../../workers/queues';
import { clearTables, openTestDataSource } from '../support/db';
import { childEnv, testConfig } from '../support/env';
import { spawnBuilt, type HubProcess } from '../support/processes';
import { deletePrefix, testPrefix, testQueueEvents, testRedis } from '../support/queues';

const INSERTERS = 10;
const TRANSACTIONS_PER_INSERTER = 5;
const ROWS_PER_TRANSACTION = 20;
const TOTAL = INSERTERS * TRANSACTIONS_PER_INSERTER * ROWS_PER_TRANSACTION;

/** Polls `check` until it is true; the assertions that follow say what went wrong if it never is. */
async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('two worker processes relaying one hub_outbox (dist/workers/worker.main.js)', () => {
  const prefix = testPrefix(__filename);
  let db: DataSource;
  let redis: Redis;
  let queues: QueueSet;
  let events: QueueEvents;
  const added: string[] = [];
  const duplicated: string[] = [];

  beforeAll(async () => {
    db = await openTestDataSource(testConfig());
    redis = await testRedis();
    queues = new QueueSet(redis, prefix);
    events = await testQueueEvents('messages', prefix);
    events.on('added', ({ jobId }) => added.push(jobId));
    events.on('duplicated', ({ jobId }) => duplicated.push(jobId));
    await clearTables(db, [HubOutbox]);
  });
  afterAll(async () => {
    await events.close();
    await queues.close();
    await deletePrefix(redis, prefix);
    await closeRedis(redis);
    await clearTables(db, [HubOutbox]);
    await db.destroy();
  });

  it(`enqueues each of ${TOTAL} rows inserted concurrently exactly once, then both stop cleanly`, async () => {
    const env = childEnv({
      HUB_QUEUE_PREFIX: prefix,
      HUB_QUEUES: 'messages',
      HUB_OUTBOX_POLL_MS: '50',
      // global-setup prepared this database already.
      HUB_MIGRATE_ON_START: 'false',
      HUB_BUSINESS_SCHEMA_ON_START: 'false',
    });
    const workers: HubProcess[] = [spawnBuilt('workers/worker.main.js', env), spawnBuilt('workers/worker.main.js', env)];
    try {
      await Promise.all(workers.map((w) => w.waitFor(/"msg":"workers started"/)));

      // Each inserter commits several transactions while both relays poll, as other systems would.
      await Promise.all(
        Array.from({ length: INSERTERS }, async (_, inserter) => {
          for (let t = 0; t < TRANSACTIONS_PER_INSERTER; t++) {
            await db.transaction(async (manager) => {
              const rows = Array.from({ length: ROWS_PER_TRANSACTION }, (_, i) => ({
                jobName: 'sms-code-cleanup',
                payload: (inserter + t + i) % 2 === 0 ? {} : { batchSize: 10 },
              }));
              await manager.insert(HubOutbox, rows);
            });
          }
        }),
      );

      const repo = db.getRepository(HubOutbox);
      await until(async () => (await repo.countBy({ status: 'PENDING' })) === 0, 15_000);
      await until(async () => (await queues.get('messages').getCompletedCount()) >= TOTAL, 15_000);
    } finally {
      for (const w of workers) w.child.kill('SIGTERM');
    }
    expect(await Promise.all(workers.map((w) => w.exited()))).toEqual([0, 0]);

    const rows = await db.getRepository(HubOutbox).find({ order: { id: 'ASC' } });
    expect(rows).toHaveLength(TOTAL);
    const notOnce = rows.filter((r) => r.status !== 'ENQUEUED' || r.attempts !== 1 || r.jobId !== `outbox-${r.id}`);
    expect(notOnce.map((r) => `${r.id}:${r.status}:${r.attempts}`)).toEqual([]);

    const expectedIds = rows.map((r) => `outbox-${r.id}`).sort();
    const completed = await queues.get('messages').getJobs(['completed'], 0, -1);
    expect(completed.map((j) => j.id).sort()).toEqual(expectedIds);
    expect(await queues.get('messages').getJobCounts('wait', 'active', 'delayed', 'failed', 'prioritized')).toEqual({
      wait: 0,
      active: 0,
      delayed: 0,
      failed: 0,
      prioritized: 0,
    });

    // The events stream is ordered: once the sentinel's 'added' arrives, every earlier event has too.
    await queues.get('messages').add('sentinel', {}, { jobId: 'sentinel' });
    await until(async () => added.includes('sentinel'), 10_000);
    expect(added.filter((id) => id !== 'sentinel').sort()).toEqual(expectedIds);
    expect(duplicated).toEqual([]);
  });
});
