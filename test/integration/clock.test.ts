import type { Redis } from 'ioredis';
import cron from 'node-cron';
import { z } from 'zod';
import { buildRegistry, defineJob, done } from '../../jobs/define-job';
import { SCHEDULES } from '../../jobs/schedules';
import { clockSlots } from '../../lib/metrics';
import { closeRedis } from '../../lib/redis';
import { parseBeijing } from '../../lib/time';
import { slotJobId, startClock, type Clock, type Schedule } from '../../workers/clock';
import { createEnqueue } from '../../workers/enqueue';
import { QueueSet } from '../../workers/queues';
import { captureLogger } from '../support/logs';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis';
import { openQueueLedger, type QueueLedger } from '../support/queue-ledger';
import { testPrefix, testRedis } from '../support/queues';
import { until } from '../support/wait';
import { RedisKeys } from '../../lib/redis-keys';

const job = (name: string) =>
  defineJob({ name, queue: 'messages', description: name, payload: z.strictObject({}), handle: async () => done(null) });
const pair = job('test-clock-pair');
const slow = job('test-clock-slow');
const fast = job('test-clock-fast');
const hourly = job('test-clock-hourly');
const daily = job('test-clock-daily');
const minutely = job('test-clock-minutely');
const retried = job('test-clock-retry');
const stranger = job('test-clock-stranger');
const registry = buildRegistry([pair, slow, fast, hourly, daily, minutely, retried]);

type Line = Record<string, unknown>;
/** The slot instant a job id names (`<job>@yyyyMMddHHmm[ss]`, Beijing time). */
function slotOf(id: string): Date {
  const [, y, mo, d, h, mi, s = '00'] = /@(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?$/.exec(id) ?? [];
  return parseBeijing(`${y}-${mo}-${d} ${h}:${mi}:${s}`);
}
const busyWait = (ms: number): void => {
  for (const end = Date.now() + ms; Date.now() < end; );
};
const slotCount = async (job: string, outcome: string): Promise<number> =>
  (await clockSlots.get()).values.find((v) => v.labels.job === job && v.labels.outcome === outcome)?.value ?? 0;

describe('the clock', () => {
  const prefix = testPrefix(__filename);
  /** Every 'added' event of the messages queue, by job id: the ledger of what reached BullMQ. */
  let ledger: QueueLedger;
  let redis: Redis;
  let queues: QueueSet;
  const running: Clock[] = [];
  const jobIds = async (name: string): Promise<string[]> =>
    (await queues.get('messages').getJobs()).filter((j) => j.name === name).map((j) => j.id as string).sort();

  const clock = (schedules: Schedule[], options: { now?: () => Date; redis?: Redis; queues?: QueueSet } = {}) => {
    const { log, lines } = captureLogger('debug');
    const deps = { enqueue: createEnqueue(options.queues ?? queues), redis: options.redis ?? redis, keys: new RedisKeys(prefix), log, now: options.now ?? (() => new Date()), registry };
    const started = startClock(deps, schedules);
    running.push(started);
    const find = (msg: string, jobName?: string): Line[] => lines().filter((l) => l.msg === msg && (!jobName || l.job === jobName));
    return { clock: started, lines, find };
  };

  beforeAll(async () => {
    ledger = await openQueueLedger(prefix);
    ({ redis, queues } = ledger);
  });
  afterAll(async () => {
    await Promise.all(running.map((c) => c.stop()));
    await ledger.close();
  });

  it('enqueues each slot once when two clocks run on the same prefix', async () => {
    const schedule = [{ job: pair, cron: '*/2 * * * * *', payload: {} }];
    const a = clock(schedule);
    const b = clock(schedule);
    await until('three slots', async () => (await jobIds(pair.name)).length >= 3, 9_000);
    await Promise.all([a.clock.stop(), b.clock.stop()]);
    const ids = await jobIds(pair.name);
    await until('the added events', () => ids.every((id) => ledger.count(id) >= 1), 3_000);
    for (const id of ids) {
      expect(id).toMatch(/^test-clock-pair@\d{13}[02468]$/);
      expect(ledger.count(id)).toBe(1);
      expect([...a.find('slot enqueued'), ...b.find('slot enqueued')].filter((l) => l.jobId === id)).toHaveLength(1);
    }
    // Both clocks fired the slots: the one that lost the race found it enqueued.
    expect(a.find('slot already enqueued').length + b.find('slot already enqueued').length).toBeGreaterThanOrEqual(ids.length - 1);
  });

  it('enqueues a slot missed by a stalled event loop after the stall, and drops one later than its period', async () => {
    const c = clock([
      { job: slow, cron: '*/3 * * * * *', payload: {} },
      { job: fast, cron: '* * * * * *', payload: {} },
    ]);
    await until('a slow slot', () => c.find('slot enqueued', slow.name).length > 0);
    const first = slotOf(String(c.find('slot enqueued', slow.name)[0]?.jobId));
    // Longer than one slot of the 3 s schedule, shorter than two periods; several periods of the 1 s one.
    busyWait(first.getTime() + 5_300 - Date.now());
    const stallEnd = Date.now();
    const stalled = slotJobId(slow.name, new Date(first.getTime() + 3_000), true);
    await until('the stalled slot', async () => (await jobIds(slow.name)).includes(stalled), 3_000);
    const job = await queues.get('messages').getJob(stalled);
    expect(job?.timestamp).toBeGreaterThanOrEqual(stallEnd);
    expect(slotOf(stalled).getTime()).toBeLessThan(stallEnd);

    await until('a fast slot after the stall', () => c.find('slot enqueued', fast.name).some((l) => slotOf(String(l.jobId)).getTime() > stallEnd - 1_000));
    await c.clock.stop();
    const dropped = c.find('slot dropped: missed by more than its period', fast.name);
    expect(dropped.length).toBeGreaterThan(0);
    expect(dropped.every((l) => l.level === 'warn')).toBe(true);
    const fastIds = await jobIds(fast.name);
    for (const line of dropped) {
      expect(slotOf(String(line.jobId)).getTime()).toBeLessThan(stallEnd);
      expect(fastIds).not.toContain(line.jobId);
    }
    expect(await slotCount(fast.name, 'dropped')).toBe(dropped.length);
    expect(await slotCount(slow.name, 'dropped')).toBe(0);
  });

  it('enqueues the latest past slot at start, and a restart does not enqueue it again even after the job is gone', async () => {
    const now = () => parseBeijing('2024-02-29 10:37:12');
    const schedules = [
      { job: hourly, cron: '0 * * * *', payload: {} },
      { job: daily, cron: '30 2 * * *', payload: {} },
      { job: minutely, cron: '*/5 * * * *', payload: {} },
    ];
    // Every schedule's latest slot, the five-minute one too: a restart across 10:35 must not lose it.
    const ids = ['test-clock-hourly@202402291000', 'test-clock-daily@202402290230', 'test-clock-minutely@202402291035'];
    const start = async () => {
      const c = clock(schedules, { now });
      await until('the catch-up', () => c.find('clock caught up').length > 0);
      await c.clock.settled();
      await c.clock.stop();
      return c;
    };

    const first = await start();
    expect(first.find('slot enqueued').map((l) => l.jobId).sort()).toEqual([...ids].sort());
    expect(await jobIds(hourly.name)).toEqual([ids[0]]);
    expect(await jobIds(daily.name)).toEqual([ids[1]]);
    expect(await jobIds(minutely.name)).toEqual([ids[2]]);

    const restart = await start();
    expect(restart.find('slot enqueued')).toEqual([]);
    expect(restart.find('slot already enqueued').map((l) => l.jobId).sort()).toEqual([...ids].sort());

    // Retention removes completed jobs after an hour: then only the marker remembers the slot.
    await (await queues.get('messages').getJob(ids[0] as string))?.remove();
    const afterRemoval = await start();
    expect(afterRemoval.find('slot enqueued')).toEqual([]);
    expect(await jobIds(hourly.name)).toEqual([]);

    // Without the marker the same restart enqueues the slot again: the marker is what held it back.
    await redis.del(`${prefix}:clock:${ids[0] as string}`);
    const withoutMarker = await start();
    expect(withoutMarker.find('slot enqueued').map((l) => l.jobId)).toEqual([ids[0]]);
    await until('the added events', () => ledger.count(ids[0] as string) >= 2, 3_000);
    expect(ledger.count(ids[0] as string)).toBe(2);
    expect(ledger.count(ids[1] as string)).toBe(1);
  });

  describe('with a Redis that goes away', () => {
    let server: PrivateRedis;
    let producer: Redis;
    let privateQueues: QueueSet;
    beforeAll(async () => {
      server = await startPrivateRedis();
      producer = await testRedis('producer', server.url);
      privateQueues = new QueueSet(producer, prefix);
    });
    afterAll(async () => {
      await privateQueues.close();
      await closeRedis(producer);
      await server.close();
    });

    it('retries a failed enqueue until Redis is back', async () => {
      // A once-a-minute slot a few seconds ahead, so its retries have the rest of the minute.
      const at = new Date(Math.ceil((Date.now() + 3_000) / 1_000) * 1_000);
      const c = clock([{ job: retried, cron: `${at.getUTCSeconds()} * * * * *`, payload: {} }], { redis: producer, queues: privateQueues });
      await server.stop();
      const failed = slotJobId(retried.name, at, true);
      // The start's catch-up of the minute before may be retrying too: this slot's lines are the ones that count.
      const linesOf = (msg: string): unknown[] => c.find(msg, retried.name).filter((l) => l.jobId === failed);
      await until('a failed attempt', () => linesOf('slot enqueue failed: retrying').length > 0, 8_000);
      await server.start();
      await until('the slot enqueued', () => linesOf('slot enqueued').length > 0, 20_000);
      expect(await privateQueues.get('messages').getJob(failed)).toBeDefined();
      expect(await producer.exists(`${prefix}:clock:${failed}`)).toBe(1);
      expect(linesOf('slot not enqueued: gave up at the next slot')).toEqual([]);
      await c.clock.stop();
    });
  });

  it('refuses a bad pattern, an unregistered job or a bad payload, naming the job', () => {
    const tasks = cron.getTasks().size;
    const start = (schedules: Schedule[]) => () => clock(schedules);
    expect(start([{ job: pair, cron: '* * * * * *', payload: {} }, { job: slow, cron: '61 * * * *', payload: {} }])).toThrow(
      /schedule of job "test-clock-slow": invalid cron pattern "61 \* \* \* \*"/,
    );
    expect(start([{ job: stranger, cron: '0 * * * *', payload: {} }])).toThrow(/schedule of job "test-clock-stranger": not a job of the registry/);
    expect(start([{ job: pair, cron: '0 * * * *', payload: { extra: 1 } }])).toThrow(/schedule of job "test-clock-pair": invalid payload/);
    expect(start([{ job: pair, cron: '0 * * * *', payload: {} }, { job: pair, cron: '0 0 * * *', payload: {} }])).toThrow(/"test-clock-pair": scheduled twice/);
    expect(cron.getTasks().size).toBe(tasks);
    // The shipped table is valid against the shipped registry.
    const { log } = captureLogger();
    const shipped = startClock({ enqueue: createEnqueue(queues), redis, keys: new RedisKeys(prefix), log, now: () => new Date() }, SCHEDULES);
    running.push(shipped);
  });
});
