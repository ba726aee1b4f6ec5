import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { SCHEDULES } from '../../jobs/schedules';
import { QUEUE_NAMES } from '../../lib/queue-names';
import { closeRedis } from '../../lib/redis';
import { slotJobId } from '../../workers/clock';
import { QueueSet } from '../../workers/queues';
import { recordRecovery } from '../support/chaos';
import { childEnv } from '../support/env';
import { spawnBuilt, type HubProcess } from '../support/processes';
import { deletePrefix, testPrefix, testRedis } from '../support/queues';
import { until } from '../support/wait';

const SCENARIO = 'clocks';
/** The jobs due at every minute boundary: the slots both faults are about. */
const MINUTELY = SCHEDULES.filter((s) => s.cron === '* * * * *');
const MINUTE_MS = 60_000;
/** Enough for three clock processes to start before the boundary (about 2 s each on a busy machine). */
const LEAD_MS = 6_000;
const KILL_BEFORE_MS = 1_500;
const RESTART_AFTER_MS = 500;

/** What reached BullMQ under a prefix, and what each clock process said about it. */
interface Ledger {
  /** Job id → how many times BullMQ added it (its events stream, every queue). */
  added: Map<string, number>;
  /** Job ids held by the queues now. */
  held: Set<string>;
}

/**
 * Clock processes (dist/workers/clock.main.js) over one minute boundary, shared by both faults to
 * keep the file near a minute: two clocks running at once on one prefix, and on another prefix a
 * clock SIGKILLed just before the boundary and restarted just after it. No worker runs: every job
 * a clock enqueued stays in its queue, so the queues and their event streams are the ledger.
 */
describe('clocks across a minute boundary', () => {
  const base = testPrefix(__filename);
  const pairPrefix = `${base}-pair`;
  const restartPrefix = `${base}-restart`;
  let redis: Redis;
  let pairQueues: QueueSet;
  let restartQueues: QueueSet;
  let boundary = new Date(0);
  let pair: HubProcess[] = [];
  let doomed: HubProcess;
  let restarted: HubProcess;
  let killAt = 0;
  let restartAt = 0;

  const spawned: HubProcess[] = [];
  const spawnClock = (prefix: string, level = 'info'): HubProcess => {
    const clock = spawnBuilt('workers/clock.main.js', childEnv({ HUB_QUEUE_PREFIX: prefix, HUB_MIGRATE_ON_START: 'false', HUB_BUSINESS_SCHEMA_ON_START: 'false', LOG_LEVEL: level }));
    spawned.push(clock);
    return clock;
  };
  const slotIds = (): string[] => MINUTELY.map((s) => slotJobId(s.job.name, boundary, false));
  /** When BullMQ took the last of the boundary's slots, by the enqueuing clock's time (same machine). */
  const lastAdded = async (queues: QueueSet): Promise<number> =>
    Math.max(...(await Promise.all(MINUTELY.map(async (s) => (await queues.get(s.job.queue).getJob(slotJobId(s.job.name, boundary, false)))?.timestamp ?? Number.NaN))));
  const logged = (clocks: HubProcess[], msg: string, id: string): number =>
    clocks.reduce((n, c) => n + c.stdout().split('\n').filter((l) => l.includes(`"msg":"${msg}"`) && l.includes(`"jobId":"${id}"`)).length, 0);

  const ledger = async (prefix: string, queues: QueueSet): Promise<Ledger> => {
    const added = new Map<string, number>();
    const held = new Set<string>();
    for (const name of QUEUE_NAMES) {
      for (const [, fields] of await redis.xrange(`${prefix}:${name}:events`, '-', '+')) {
        const id = fields[fields.indexOf('jobId') + 1];
        if (fields[fields.indexOf('event') + 1] === 'added' && id) added.set(id, (added.get(id) ?? 0) + 1);
      }
      for (const job of await queues.get(name).getJobs()) if (job.id) held.add(job.id);
    }
    return { added, held };
  };
  const slotsHeld = async (queues: QueueSet): Promise<boolean> =>
    (await Promise.all(MINUTELY.map(async (s) => (await queues.get(s.job.queue).getJob(slotJobId(s.job.name, boundary, false))) !== undefined))).every(Boolean);
  const stop = async (clocks: HubProcess[]): Promise<(number | null)[]> => {
    for (const c of clocks) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGTERM');
    return Promise.all(clocks.map((c) => c.exited()));
  };

  beforeAll(async () => {
    redis = await testRedis();
    pairQueues = new QueueSet(redis, pairPrefix);
    restartQueues = new QueueSet(redis, restartPrefix);

    // The next boundary far enough ahead for the clocks to be running by then.
    boundary = new Date((Math.floor((Date.now() + LEAD_MS) / MINUTE_MS) + 1) * MINUTE_MS);
    pair = [spawnClock(pairPrefix, 'debug'), spawnClock(pairPrefix, 'debug')];
    doomed = spawnClock(restartPrefix);
    await Promise.all([...pair, doomed].map((c) => c.waitFor(/"msg":"clock caught up"/, 20_000)));
    expect(Date.now()).toBeLessThan(boundary.getTime() - KILL_BEFORE_MS);

    await sleep(boundary.getTime() - KILL_BEFORE_MS - Date.now());
    killAt = Date.now();
    doomed.child.kill('SIGKILL');
    expect(await doomed.exited()).toBeNull();
    await sleep(Math.max(0, boundary.getTime() + RESTART_AFTER_MS - Date.now()));
    restartAt = Date.now();
    restarted = spawnClock(restartPrefix);

    await until('the pair enqueued the boundary slots', () => slotsHeld(pairQueues), 15_000, 100);
    // Once caught up, the restarted clock has enqueued every slot it is going to: its next tick is the next minute's.
    await restarted.waitFor(/"msg":"clock caught up"/, 20_000);
    expect(await stop([...pair, restarted])).toEqual([0, 0, 0]);
  }, 120_000);

  afterAll(async () => {
    await stop(spawned);
    await pairQueues.close();
    await restartQueues.close();
    await deletePrefix(redis, pairPrefix);
    await deletePrefix(redis, restartPrefix);
    await closeRedis(redis);
  });

  it('two clocks running at once enqueue each due slot once', async () => {
    const { added, held } = await ledger(pairPrefix, pairQueues);
    for (const id of slotIds()) {
      expect(held.has(id)).toBe(true);
      expect(added.get(id)).toBe(1);
      // Both clocks fired the slot: one enqueued it, the other found it enqueued.
      expect(logged(pair, 'slot enqueued', id)).toBe(1);
      expect(logged(pair, 'slot already enqueued', id)).toBe(1);
    }
    // Every slot the pair touched (the start's catch-up too) reached BullMQ once.
    for (const [id, n] of added) expect([id, n]).toEqual([id, 1]);
    // Nothing broke here: the figure is how late after the boundary the last of its slots was in the queue.
    const lateMs = (await lastAdded(pairQueues)) - boundary.getTime();
    recordRecovery({
      scenario: SCENARIO,
      fault: 'two clocks at once over a minute boundary',
      recoveryMs: lateMs,
      detail: `${slotIds().length} minute slots enqueued 1 time each, the last ${lateMs} ms after the boundary; ${added.size} slots in all, none twice`,
    });
  });

  it('a clock SIGKILLed before the boundary and restarted after it enqueues the missed slot once', async () => {
    const { added, held } = await ledger(restartPrefix, restartQueues);
    const missing = slotIds().filter((id) => !held.has(id));
    // The killed clock never reached the boundary: whatever holds the slot came from the restart.
    for (const id of slotIds()) expect(logged([doomed], 'slot enqueued', id)).toBe(0);
    for (const [id, n] of added) expect([id, n]).toEqual([id, 1]);
    expect(missing).toEqual([]);
    for (const id of slotIds()) {
      expect(added.get(id)).toBe(1);
      expect(logged([restarted], 'slot enqueued', id)).toBe(1);
    }
    recordRecovery({
      scenario: SCENARIO,
      fault: `clock SIGKILLed ${KILL_BEFORE_MS / 1000} s before a minute boundary, restarted ${RESTART_AFTER_MS / 1000} s after`,
      recoveryMs: (await lastAdded(restartQueues)) - restartAt,
      detail: `${slotIds().length} missed minute slots, each enqueued 1 time (killed ${boundary.getTime() - killAt} ms before), none twice`,
    });
  });
});
