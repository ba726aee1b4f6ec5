import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisConnection } from '../lib/redis';
import type { DataSource } from 'typeorm';
import type { JobRegistry } from '../jobs/define-job';
import { createSleeper } from '../lib/async';
import type { Logger } from '../lib/logger';
import { sweeperRestored, sweeperRuns } from '../lib/metrics';
import type { QueueName } from '../lib/queue-names';
import type { RedisKeys } from '../lib/redis-keys';
import type { QueueSet } from './queues';

/**
 * Redis is not the system of record: a sweeper adds again, with the same job id, the work MySQL
 * says is unfinished but whose job Redis no longer holds (flushed, lost in a crash without AOF).
 * Each sweeper owns the rule for its table; this file runs them.
 */

export interface SweepScope {
  db: DataSource;
  /** The producer connection: the lock and the existence checks fail fast while Redis is away. */
  redis: RedisConnection;
  queues: QueueSet;
  registry: JobRegistry;
  log: Logger;
  now: () => Date;
  /** Aborted when the loop stops: a sweeper checks it between batches and returns what it restored. */
  signal: AbortSignal;
  /** The period this pass belongs to: work younger than this may still be on its way to Redis, not lost. */
  periodMs: number;
}

export interface Sweeper {
  /** The lock key and the metrics' label: unique, stable. */
  readonly name: string;
  /** The queue whose jobs it restores: its lock lives beside that queue's keys. */
  readonly queue: QueueName;
  /** How often. */
  readonly everyMs: number;
  /** One pass; returns how many jobs it restored. Adds with the work's own job id, so a pass run twice adds nothing twice. */
  sweep(scope: SweepScope): Promise<number>;
}

export interface SweeperLoop {
  /** Aborts the scope's signal and waits for a pass in flight; leaves no timer behind. */
  stop(): Promise<void>;
}

export type SweepDeps = Omit<SweepScope, 'signal' | 'periodMs'>;

/** A few seconds: a starting process serves first, and a fleet started together spreads its first tries. */
const FIRST_DELAY_MS = 5_000;

/** Held for a whole period, never released: one pass per period across every process. */
export const sweeperLockKey = (keys: RedisKeys, sweeper: Pick<Sweeper, 'name' | 'queue'>): string => keys.beside(sweeper.queue, 'sweeper', sweeper.name);

/** Names who holds the lock, for ops reading the key. */
const lockToken = (): string => `${hostname()}:${process.pid}:${randomUUID()}`;

/** One pass, counted; 'locked' when another process swept this period. Throws what the pass threw. */
async function runPass(deps: SweepDeps, sweeper: Sweeper, signal: AbortSignal, lock: boolean, periodMs: number): Promise<number | 'locked'> {
  const labels = { sweeper: sweeper.name };
  const started = Date.now();
  let restored: number;
  try {
    if (lock) {
      const taken = await deps.redis.set(sweeperLockKey(deps.queues.keys, sweeper), lockToken(), 'PX', periodMs, 'NX');
      if (taken !== 'OK') {
        sweeperRuns.inc({ ...labels, outcome: 'skipped_locked' });
        deps.log.debug(labels, 'sweep skipped: another process swept this period');
        return 'locked';
      }
    }
    restored = await sweeper.sweep({ ...deps, signal, periodMs });
  } catch (err) {
    sweeperRuns.inc({ ...labels, outcome: 'error' });
    throw err;
  }
  sweeperRuns.inc({ ...labels, outcome: 'swept' });
  sweeperRestored.inc(labels, restored);
  if (restored > 0) deps.log.info({ ...labels, restored, ms: Date.now() - started }, 'sweeper restored jobs lost from Redis');
  return restored;
}

/**
 * One pass now, for tests and ops; returns how many jobs it restored. Without the lock by default:
 * whoever calls it wants the pass, and job ids make it harmless next to a loop's. With `lock: true`
 * it is a loop's pass, returning 0 when another process holds the period.
 */
export async function sweepOnce(deps: SweepDeps, sweeper: Sweeper, options: { lock?: boolean } = {}): Promise<number> {
  const restored = await runPass(deps, sweeper, new AbortController().signal, options.lock ?? false, sweeper.everyMs);
  return restored === 'locked' ? 0 : restored;
}

/**
 * One loop per sweeper: the first pass after `firstDelayMs`, then one every `everyMs` (or every
 * `periodMs` for all of them, HUB_SWEEP_INTERVAL_MS), each under the lock.
 */
export function startSweepers(deps: SweepDeps, sweepers: readonly Sweeper[], options: { firstDelayMs?: number; periodMs?: number } = {}): SweeperLoop {
  const names = new Set<string>();
  for (const s of sweepers) {
    // A shared name would share a lock: one of the two would never run.
    if (names.has(s.name)) throw new Error(`sweeper ${s.name} is registered twice`);
    if (!(s.everyMs > 0)) throw new Error(`sweeper ${s.name}: everyMs must be positive`);
    names.add(s.name);
  }
  const sleeper = createSleeper();
  const controller = new AbortController();

  const loop = async (sweeper: Sweeper): Promise<void> => {
    const firstDelayMs = options.firstDelayMs ?? FIRST_DELAY_MS * (1 + Math.random());
    const periodMs = options.periodMs ?? sweeper.everyMs;
    for (let wait = firstDelayMs; await sleeper.sleep(wait); wait = periodMs) {
      try {
        await runPass(deps, sweeper, controller.signal, true, periodMs);
      } catch (err) {
        // The lock stays taken: the next try is a period later, in whichever process gets there first.
        deps.log.warn({ err, sweeper: sweeper.name }, 'sweep failed: tried again next period');
      }
    }
  };
  const loops = sweepers.map(loop);

  return {
    async stop() {
      controller.abort();
      sleeper.stop();
      await Promise.all(loops);
    },
  };
}
