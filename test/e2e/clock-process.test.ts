import type { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { closeRedis } from '../../lib/redis';
import { beijingSlot } from '../../lib/time';
import { QueueSet } from '../../workers/queues';
import { childEnv } from '../support/env';
import { spawnBuilt, type HubProcess } from '../support/processes';
import { deletePrefix, testPrefix, testQueueEvents, testRedis } from '../support/queues';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const start = Date.now(); !check(); await sleep(20)) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
  }
}
/** The hourly slot of sms-code-cleanup for the Beijing hour of `at`. */
const hourSlot = (at: Date): string => `sms-code-cleanup@${beijingSlot(at).slice(0, 10)}00`;

describe('the clock process (dist/workers/clock.main.js)', () => {
  const prefix = testPrefix(__filename);
  const env = childEnv({ HUB_QUEUE_PREFIX: prefix, HUB_MIGRATE_ON_START: 'false', HUB_BUSINESS_SCHEMA_ON_START: 'false' });
  let redis: Redis;
  let queues: QueueSet;
  let events: QueueEvents;
  /** Every 'added' event of the messages queue: the ledger of what reached BullMQ. */
  const added: string[] = [];
  const addedCount = (id: string): number => added.filter((a) => a === id).length;
  let sentinels = 0;

  beforeAll(async () => {
    redis = await testRedis();
    queues = new QueueSet(redis, prefix);
    events = await testQueueEvents('messages', prefix);
    events.on('added', ({ jobId }) => added.push(jobId));
  });
  afterAll(async () => {
    await events.close();
    await queues.close();
    await deletePrefix(redis, prefix);
    await closeRedis(redis);
  });

  /** Events arrive in stream order: once a job added now is seen, every earlier 'added' has been too. */
  const drainEvents = async (): Promise<void> => {
    const id = `sentinel-${++sentinels}`;
    await queues.get('messages').add('sentinel', {}, { jobId: id });
    await until(`the ${id} event`, () => added.includes(id));
  };
  const cleanupIds = async (): Promise<string[]> =>
    (await queues.get('messages').getJobs()).filter((j) => j.name === 'sms-code-cleanup').map((j) => j.id as string);
  const enqueuedLines = (clock: HubProcess, id: string): number =>
    clock.stdout().split('\n').filter((l) => l.includes('"msg":"slot enqueued"') && l.includes(`"jobId":"${id}"`)).length;

  /** Runs the clocks until they have caught up, then stops them with SIGTERM; resolves to their exit codes. */
  const runClocks = async (count: number): Promise<{ clocks: HubProcess[]; codes: (number | null)[] }> => {
    const clocks = Array.from({ length: count }, () => spawnBuilt('workers/clock.main.js', env));
    try {
      await Promise.all(clocks.map((c) => c.waitFor(/"msg":"clock caught up"/, 20_000)));
    } finally {
      for (const c of clocks) c.child.kill('SIGTERM');
    }
    return { clocks, codes: await Promise.all(clocks.map((c) => c.exited())) };
  };

  it('two clocks started at once enqueue the latest hourly slot once, and a restart enqueues it no more', async () => {
    const before = hourSlot(new Date());
    const { clocks, codes } = await runClocks(2);
    const after = hourSlot(new Date());
    expect(codes).toEqual([0, 0]);
    for (const c of clocks) expect(c.stdout()).toContain('"msg":"shut down cleanly"');
    await drainEvents();

    const ids = await cleanupIds();
    // The hour may turn while they start: then the slot of the new hour is the latest past one.
    if (before === after) expect(ids).toEqual([before]);
    else expect(ids.length).toBeGreaterThanOrEqual(1);
    for (const id of ids) {
      expect([before, after]).toContain(id);
      expect(addedCount(id)).toBe(1);
      expect(clocks.reduce((n, c) => n + enqueuedLines(c, id), 0)).toBe(1);
    }

    const restart = await runClocks(1);
    expect(restart.codes).toEqual([0]);
    await drainEvents();
    for (const id of ids) {
      expect(addedCount(id)).toBe(1);
      expect(enqueuedLines(restart.clocks[0] as HubProcess, id)).toBe(0);
    }
    if (hourSlot(new Date()) === after) expect((await cleanupIds()).sort()).toEqual([...ids].sort());
  });
});
