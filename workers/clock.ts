import type { RedisConnection } from '../lib/redis';
import cron, { type Logger as CronLogger, type ScheduledTask, type TaskContext } from 'node-cron';
import { registry as defaultRegistry } from '../jobs';
import type { JobRegistry } from '../jobs/define-job';
import { CLOCK_TIMEZONE, SCHEDULES, type Schedule } from '../jobs/schedules';
import type { Config } from '../lib/config';
import type { Enqueue } from '../jobs/context';
import type { Logger } from '../lib/logger';
import type { RedisKeys } from '../lib/redis-keys';
import { createSleeper } from '../lib/async';
import { clockSlots } from '../lib/metrics';
import { QUEUE_NAMES } from '../lib/queue-names';
import { beijingSlot } from '../lib/time';
import { describeIssues } from '../lib/validation';
import { watchQueueMetrics } from './queue-metrics';
import type { Role, Runtime } from './runtime';

export type { Schedule } from '../jobs/schedules';

export interface ClockDeps {
  enqueue: Enqueue;
  /** The producer connection (fails fast while Redis is away): holds the fired-slot markers. */
  redis: RedisConnection;
  /** Each slot's marker lives beside its job's queue. */
  keys: RedisKeys;
  log: Logger;
  /** Only the start catch-up reads it, so tests can place the clock anywhere in time. */
  now: () => Date;
  registry?: JobRegistry;
}

export interface Clock {
  /** Resolves when every slot in hand has been enqueued or given up. */
  settled(): Promise<void>;
  /** Stops the tasks, cancels pending retries and waits for enqueues under way. */
  stop(): Promise<void>;
}

type Outcome = 'enqueued' | 'duplicate' | 'dropped' | 'error';

interface Entry {
  readonly schedule: Schedule;
  readonly task: ScheduledTask;
  readonly periodMs: number;
  /** The pattern's seconds, latest first: the candidates of each minute when walking back. */
  readonly seconds: readonly number[];
  readonly withSeconds: boolean;
}

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/** `<job>@<yyyyMMddHHmm[ss]>` in Beijing time: the same slot gets the same id in every clock. */
export function slotJobId(job: string, slot: Date, withSeconds: boolean): string {
  return `${job}@${beijingSlot(slot, withSeconds)}`;
}

/** Validates every schedule before any starts; throws naming the job. */
function prepare(schedules: readonly Schedule[], registry: JobRegistry, log: Logger, onTick: (entry: Entry, slot: Date) => void): Entry[] {
  const entries: Entry[] = [];
  try {
    for (const schedule of schedules) {
      const name = schedule.job.name;
      const fail: (why: string) => never = (why) => {
        throw new Error(`clock: schedule of job ${JSON.stringify(name)}: ${why}`);
      };
      if (registry.get(name) !== schedule.job) fail('not a job of the registry');
      if (entries.some((e) => e.schedule.job.name === name)) fail('scheduled twice (the slot ids would collide)');
      const payload = schedule.job.payload.safeParse(schedule.payload);
      if (!payload.success) fail(`invalid payload: ${describeIssues(payload.error).join('; ')}`);
      let seconds: number[] = [];
      try {
        seconds = cron.parse(schedule.cron).second.sort((a, b) => b - a);
      } catch (err) {
        fail(`invalid cron pattern ${JSON.stringify(schedule.cron)}: ${(err as Error).message}`);
      }
      const periodMs = periodOf(schedule.cron);
      // node-cron drops a tick later than its tolerance (1 s by default): a period keeps a stalled slot.
      const task = cron.createTask(schedule.cron, (ctx: TaskContext) => onTick(entry, ctx.date), {
        timezone: CLOCK_TIMEZONE,
        name: `clock:${name}`,
        missedExecutionTolerance: periodMs,
        logger: cronLogger(log, name),
      });
      const entry: Entry = { schedule, task, periodMs, seconds, withSeconds: schedule.cron.trim().split(/\s+/).length === 6 };
      entries.push(entry);
    }
  } catch (err) {
    for (const entry of entries) void entry.task.destroy();
    throw err;
  }
  return entries;
}

/** The gap between the next two runs; the tolerance, the retry horizon and the marker's life follow from it. */
function periodOf(pattern: string): number {
  const probe = cron.createTask(pattern, () => undefined, { timezone: CLOCK_TIMEZONE });
  const [first, second] = probe.getNextRuns(2);
  void probe.destroy();
  return first && second ? second.getTime() - first.getTime() : HOUR_MS;
}

/** node-cron's own messages go to our log, never to the console. */
function cronLogger(log: Logger, job: string): CronLogger {
  const text = (m: string | Error): string => (typeof m === 'string' ? m : m.message);
  return {
    info: (m) => log.info({ job }, m),
    warn: (m) => log.warn({ job }, m),
    error: (m, err) => log.error({ job, err: err ?? m }, `node-cron: ${text(m)}`),
    debug: (m) => log.debug({ job }, text(m)),
  };
}

/** The latest slot in (now - period, now], walking back minute by minute. */
function latestSlot(entry: Entry, now: Date): Date | undefined {
  const end = Math.floor(now.getTime() / 1_000) * 1_000;
  const floor = end - entry.periodMs;
  for (let minute = end - (end % MINUTE_MS); minute + MINUTE_MS > floor; minute -= MINUTE_MS) {
    for (const second of entry.seconds) {
      const at = minute + second * 1_000;
      if (at <= end && at > floor && entry.task.match(new Date(at))) return new Date(at);
    }
  }
  return undefined;
}

export function startClock(deps: ClockDeps, schedules: readonly Schedule[]): Clock {
  const { log, redis } = deps;
  const inflight = new Set<Promise<void>>();
  const sleeper = createSleeper();

  const count = (job: string, outcome: Outcome): void => clockSlots.inc({ job, outcome });

  // The marker outlives BullMQ's retention of the job, so a restart cannot fire a slot again;
  // SET NX decides which of two racing clocks reports the slot, the job id already deduped the add.
  const enqueueOnce = async (entry: Entry, jobId: string): Promise<Outcome> => {
    const marker = deps.keys.beside(entry.schedule.job.queue, 'clock', jobId);
    if ((await redis.exists(marker)) > 0) return 'duplicate';
    await deps.enqueue(entry.schedule.job, entry.schedule.payload, { jobId });
    const ttlMs = Math.max(2 * entry.periodMs, 2 * HOUR_MS);
    const claimed = await redis.set(marker, new Date().toISOString(), 'PX', ttlMs, 'NX');
    return claimed === 'OK' ? 'enqueued' : 'duplicate';
  };

  const fire = async (entry: Entry, slot: Date): Promise<void> => {
    const job = entry.schedule.job.name;
    const jobId = slotJobId(job, slot, entry.withSeconds);
    // Retrying past the next slot would only compete with it: that slot does the work then.
    const deadline = entry.task.getNextRuns(1)[0]?.getTime() ?? Date.now();
    for (let delay = RETRY_FIRST_MS; ; delay = Math.min(2 * delay, RETRY_MAX_MS)) {
      try {
        const outcome = await enqueueOnce(entry, jobId);
        count(job, outcome);
        if (outcome === 'enqueued') log.info({ job, jobId }, 'slot enqueued');
        else log.debug({ job, jobId }, 'slot already enqueued');
        return;
      } catch (err) {
        const wait = sleeper.stopped ? 0 : Math.min(delay, deadline - Date.now());
        if (wait > 0) log.warn({ err, job, jobId, retryInMs: wait }, 'slot enqueue failed: retrying');
        if (wait <= 0 || !(await sleeper.sleep(wait))) {
          count(job, 'error');
          log.error({ err, job, jobId }, sleeper.stopped ? 'slot not enqueued: clock stopped' : 'slot not enqueued: gave up at the next slot');
          return;
        }
      }
    }
  };

  const run = (entry: Entry, slot: Date): Promise<void> => {
    if (sleeper.stopped) return Promise.resolve();
    const p = fire(entry, slot).finally(() => inflight.delete(p));
    inflight.add(p);
    return p;
  };

  const entries = prepare(schedules, deps.registry ?? defaultRegistry, log, (entry, slot) => void run(entry, slot));

  for (const entry of entries) {
    const job = entry.schedule.job.name;
    // A missed slot within a period is still worth running; an older one is covered by the slots after it.
    entry.task.on('execution:missed', (ctx) => {
      const lateMs = Date.now() - ctx.date.getTime();
      if (lateMs <= entry.periodMs) return void run(entry, ctx.date);
      count(job, 'dropped');
      log.warn({ job, jobId: slotJobId(job, ctx.date, entry.withSeconds), lateMs, periodMs: entry.periodMs }, 'slot dropped: missed by more than its period');
    });
    void entry.task.start();
  }
  log.info({ schedules: entries.map((e) => ({ job: e.schedule.job.name, cron: e.schedule.cron, periodMs: e.periodMs })), timezone: CLOCK_TIMEZONE }, 'clock started');

  // A restart, or a clock that was down, enqueues each schedule's latest slot, which it may have missed:
  // node-cron fires a new task only at the next match, so a minute slot passed during a restart would
  // otherwise be lost. Marker and job id make it a no-op when the slot was already enqueued.
  const now = deps.now();
  const catchUps = entries.map((e) => ({ e, slot: latestSlot(e, now) }));
  void Promise.all(catchUps.map(({ e, slot }) => (slot ? run(e, slot) : undefined))).then(() => {
    if (!sleeper.stopped) log.info({ jobs: catchUps.map(({ e }) => e.schedule.job.name) }, 'clock caught up');
  });

  const settled = async (): Promise<void> => {
    while (inflight.size > 0) await Promise.all([...inflight]);
  };
  return {
    settled,
    async stop() {
      sleeper.stop();
      for (const entry of entries) await entry.task.destroy();
      await settled();
    },
  };
}

/**
 * The clock as a role of a process (clock.main, or a combined one); the runtime is closed by the caller.
 * Its process also reports queue depth: a deployment runs one clock, so each queue's gauges are
 * exported once. A second clock exports the same figures read from the same Redis, apart only by
 * instance: `max without (instance)` reads either.
 */
export function startClockRole(runtime: Runtime, config: Config, log: Logger, schedules: readonly Schedule[] = SCHEDULES): Role {
  const clock = startClock({ enqueue: runtime.enqueue, redis: runtime.redis, keys: runtime.queues.keys, log, now: () => new Date() }, schedules);
  const unwatch = watchQueueMetrics(runtime, QUEUE_NAMES);
  return {
    async close() {
      unwatch();
      await clock.stop();
    },
  };
}
