import type { QueueEvents } from 'bullmq';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { hubCanary } from '../../jobs/ops/hub-canary.job';
import { buildRegistry } from '../../jobs/define-job';
import type { WorkerPool } from '../../workers/start-workers';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';

/** The canary claims its own key: the runner no longer turns duplicates into skipped for it. */
describe('hub-canary', () => {
  let hub: TestHub;
  let events: QueueEvents;
  let pool: WorkerPool;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { registry: buildRegistry([hubCanary]) });
    events = await testQueueEvents(hubCanary.queue, hub.prefix);
    await clearTables(hub.db, [HubCanary]);
    pool = hub.startWorkers([hubCanary.queue]);
  });
  afterAll(async () => {
    await pool.close();
    await events.close();
    await clearTables(hub.db, [HubCanary]);
    await hub.close();
  });

  const run = async (key: string): Promise<unknown> => {
    const { id } = await hub.enqueue(hubCanary, { key });
    return (await hub.queues.get(hubCanary.queue).getJob(id))?.waitUntilFinished(events, 15_000);
  };

  it('writes its row once: a second canary of the key finds it written and skips', async () => {
    expect(await run('twice')).toEqual({ status: 'done', result: { key: 'twice', heldMs: 0 } });
    expect(await run('twice')).toEqual({ status: 'skipped', reason: 'canary twice already written' });
    expect(await hub.db.getRepository(HubCanary).countBy({ canaryKey: 'twice' })).toBe(1);
  });
});
