import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { hubCanary } from '../../jobs/ops/hub-canary.job';
import { buildRegistry, defineJob, done } from '../../jobs/define-job';
import { blockingConnectionStatus } from '../../workers/worker-watchdog';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { until } from '../support/wait';

/** Sleeps without looking at ctx.signal, as a careless handler would. */
const stubborn = defineJob({
  name: 'test-stubborn',
  queue: 'ops',
  description: 'ignores the shutdown signal',
  payload: z.object({ ms: z.number().int() }),
  async handle({ ms }) {
    await sleep(ms);
    return done('ignored the signal');
  },
});

describe('the worker pool', () => {
  let hub: TestHub;
  let events: QueueEvents;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { registry: buildRegistry([hubCanary, stubborn]) });
    events = await testQueueEvents('ops', hub.prefix);
    await clearTables(hub.db, [HubCanary]);
  });
  afterAll(async () => {
    await events.close();
    await clearTables(hub.db, [HubCanary]);
    await hub.close();
  });

  const canaryRows = (key: string): Promise<number> => hub.db.getRepository(HubCanary).countBy({ canaryKey: key });

  it('recreates a worker whose blocking connection stays down while Redis answers, and takes jobs again', async () => {
    const pool = hub.startWorkers(['ops'], { watchdogMs: 1_000 });
    try {
      const [original] = pool.workers;
      if (!original) throw new Error('no worker');
      await until('the blocking connection is up', async () => (await blockingConnectionStatus(original)) === 'ready', 10_000);
      await expect(pool.readiness.run()).resolves.toBeUndefined();

      // The failure BullMQ users report after restarts and failovers: the blocking client parks and
      // never reconnects, while the normal connection is fine. Its reconnect is made to hang, as there.
      const blocking = (await original.backend.blockingClient) as unknown as Redis;
      blocking.connect = () => new Promise<void>(() => undefined);
      blocking.disconnect();
      await until('readiness reports it', async () => pool.readiness.run().then(() => false, (err: Error) => /blocking connection not ready: ops/.test(err.message)), 5_000);

      await until('the watchdog replaced the worker', async () => pool.workers[0] !== original, 15_000);
      expect(hub.logText()).toContain('blocking connection down while Redis answers: worker recreated');
      const job = await hub.enqueue(hubCanary, { key: 'after-recreate' });
      const result = await (await hub.queues.get('ops').getJob(job.id))?.waitUntilFinished(events, 15_000);
      expect(result).toEqual({ status: 'done', result: { key: 'after-recreate', heldMs: 0 } });
      expect(await canaryRows('after-recreate')).toBe(1);
      await until('readiness passes again', async () => pool.readiness.run().then(() => true, () => false), 10_000);
    } finally {
      await pool.close();
    }
  });

  it('on close, a job that stops on ctx.signal goes straight back to wait and keeps its attempts', async () => {
    const pool = hub.startWorkers(['ops']);
    const queue = hub.queues.get('ops');
    const job = await hub.enqueue(hubCanary, { key: 'handed-back', holdMs: 20_000 });
    // Its first progress report: the handler is inside its hold, between two looks at ctx.signal.
    await until('the canary is holding', async () => (await queue.getJob(job.id))?.progress !== 0, 10_000);
    await pool.close(5_000);

    const state = await queue.getJob(job.id);
    expect(await state?.getState()).toBe('waiting');
    expect(state?.attemptsMade).toBe(0);
    expect(await canaryRows('handed-back')).toBe(0);
    expect(hub.logText()).toMatch(/"reason":"stopped for the shutdown".*"msg":"job handed back to wait"/);
    await state?.remove();
  });

  it('at the deadline, a job that ignores ctx.signal is moved back to wait all the same', async () => {
    const pool = hub.startWorkers(['ops']);
    const queue = hub.queues.get('ops');
    const job = await hub.enqueue(stubborn, { ms: 1_500 });
    await until('the stubborn job is running', async () => (await queue.getJobState(job.id)) === 'active', 10_000);
    await pool.close(200);
    expect(await queue.getJobState(job.id)).toBe('waiting');
    expect(hub.logText()).toContain('shutdown deadline passed: running jobs handed back to wait');
    // When it does end, it neither completes nor fails the job another worker now owns.
    await until('the stubborn handler ended', async () => hub.logText().includes('job ran on after it was handed back'), 5_000);
    expect(await queue.getJobState(job.id)).toBe('waiting');
    await (await queue.getJob(job.id))?.remove();
  });
});
