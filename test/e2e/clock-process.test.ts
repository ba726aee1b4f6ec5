import { beijingSlot } from '../../lib/time';
import { childEnv } from '../support/env';
import { spawnBuilt, type HubProcess } from '../support/processes';
import { openQueueLedger, type QueueLedger } from '../support/queue-ledger';
import { testPrefix } from '../support/queues';

/** The hourly slot of sms-code-cleanup for the Beijing hour of `at`. */
const hourSlot = (at: Date): string => `sms-code-cleanup@${beijingSlot(at).slice(0, 10)}00`;

describe('the clock process (dist/workers/clock.main.js)', () => {
  const prefix = testPrefix(__filename);
  const env = childEnv({ HUB_QUEUE_PREFIX: prefix, HUB_MIGRATE_ON_START: 'false', HUB_BUSINESS_SCHEMA_ON_START: 'false' });
  /** Every 'added' event of the ops queue: the ledger of what reached BullMQ. */
  let ledger: QueueLedger;

  beforeAll(async () => {
    ledger = await openQueueLedger(prefix, 'ops');
  });
  afterAll(async () => {
    await ledger.close();
  });

  const cleanupIds = async (): Promise<string[]> =>
    (await ledger.queues.get('ops').getJobs()).filter((j) => j.name === 'sms-code-cleanup').map((j) => j.id as string);
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
    await ledger.drain();

    const ids = await cleanupIds();
    // The hour may turn while they start: then the slot of the new hour is the latest past one.
    if (before === after) expect(ids).toEqual([before]);
    else expect(ids.length).toBeGreaterThanOrEqual(1);
    for (const id of ids) {
      expect([before, after]).toContain(id);
      expect(ledger.count(id)).toBe(1);
      expect(clocks.reduce((n, c) => n + enqueuedLines(c, id), 0)).toBe(1);
    }

    const restart = await runClocks(1);
    expect(restart.codes).toEqual([0]);
    await ledger.drain();
    for (const id of ids) {
      expect(ledger.count(id)).toBe(1);
      expect(enqueuedLines(restart.clocks[0] as HubProcess, id)).toBe(0);
    }
    if (hourSlot(new Date()) === after) expect((await cleanupIds()).sort()).toEqual([...ids].sort());
  });
});
