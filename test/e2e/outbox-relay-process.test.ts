import type { DataSource } from 'typeorm';
import { HubOutbox } from '../../entities/hub/hub-outbox.entity';
import { clearTables, openTestDataSource } from '../support/db';
import { childEnv, testConfig } from '../support/env';
import { spawnBuilt, type HubProcess } from '../support/processes';
import { openQueueLedger, type QueueLedger } from '../support/queue-ledger';
import { testPrefix } from '../support/queues';
import { until } from '../support/wait';

const INSERTERS = 10;
const TRANSACTIONS_PER_INSERTER = 5;
const ROWS_PER_TRANSACTION = 20;
const TOTAL = INSERTERS * TRANSACTIONS_PER_INSERTER * ROWS_PER_TRANSACTION;

/** Waits for the relays to settle; on a timeout it carries on, since the assertions that follow name the rows and jobs that went wrong. */
const settle = (what: string, check: () => Promise<boolean>): Promise<void> => until(what, check, 15_000, 100).catch(() => undefined);

describe('two worker processes relaying one hub_outbox (dist/workers/worker.main.js)', () => {
  const prefix = testPrefix(__filename);
  let db: DataSource;
  let ledger: QueueLedger;

  beforeAll(async () => {
    db = await openTestDataSource(testConfig());
    ledger = await openQueueLedger(prefix);
    await clearTables(db, [HubOutbox]);
  });
  afterAll(async () => {
    await ledger.close();
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
    const messages = ledger.queues.get('messages');
    const workers: HubProcess[] = [spawnBuilt('workers/worker.main.js', env), spawnBuilt('workers/worker.main.js', env)];
    try {
      await Promise.all(workers.map((w) => w.waitFor(/"msg":"workers started"/)));

      // Each inserter commits several transactions while both relays poll, as other systems would.
      await Promise.all(
        Array.from({ length: INSERTERS }, async (_, inserter) => {
          for (let t = 0; t < TRANSACTIONS_PER_INSERTER; t++) {
            await db.transaction(async (manager) => {
              const rows = Array.from({ length: ROWS_PER_TRANSACTION }, (_, i) => ({
                // A business job: the outbox enqueues no ops job. With no notifies pending, each run is short.
                jobName: 'notify-dispatch',
                payload: (inserter + t + i) % 2 === 0 ? {} : { batchSize: 10 },
              }));
              await manager.insert(HubOutbox, rows);
            });
          }
        }),
      );

      const repo = db.getRepository(HubOutbox);
      await settle('no PENDING rows', async () => (await repo.countBy({ status: 'PENDING' })) === 0);
      await settle(`${TOTAL} completed jobs`, async () => (await messages.getCompletedCount()) >= TOTAL);
    } finally {
      for (const w of workers) w.child.kill('SIGTERM');
    }
    expect(await Promise.all(workers.map((w) => w.exited()))).toEqual([0, 0]);

    const rows = await db.getRepository(HubOutbox).find({ order: { id: 'ASC' } });
    expect(rows).toHaveLength(TOTAL);
    // Relayed once (one attempt), and each job marked its row DONE when it completed.
    const notOnce = rows.filter((r) => r.status !== 'DONE' || r.attempts !== 1 || r.jobId !== `outbox-${r.id}`);
    expect(notOnce.map((r) => `${r.id}:${r.status}:${r.attempts}`)).toEqual([]);

    const expectedIds = rows.map((r) => `outbox-${r.id}`).sort();
    const completed = await messages.getJobs(['completed'], 0, -1);
    expect(completed.map((j) => j.id).sort()).toEqual(expectedIds);
    expect(await messages.getJobCounts('wait', 'active', 'delayed', 'failed', 'prioritized')).toEqual({
      wait: 0,
      active: 0,
      delayed: 0,
      failed: 0,
      prioritized: 0,
    });

    // The events stream is ordered: once the ledger's sentinel arrives, every earlier event has too.
    await ledger.drain();
    expect([...ledger.added].sort()).toEqual(expectedIds);
    expect(ledger.duplicated).toEqual([]);
  });
});
