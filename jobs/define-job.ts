import type { JobsOptions } from 'bullmq';
import type { z } from 'zod';
import type { JobContext } from './context';
import { isQueueName, type QueueName } from '../lib/queue-names';

/** An entity class (a TypeORM-decorated class). */
export type EntityClass = new () => object;

export type JobResult<R = unknown> = { status: 'done'; result: R } | { status: 'skipped'; reason: string };

export const done = <R>(result: R): JobResult<R> => ({ status: 'done', result });
export const skipped = (reason: string): JobResult<never> => ({ status: 'skipped', reason });

export interface JobDefinition<S extends z.ZodType = z.ZodType, R = unknown> {
  /** A stable contract: other systems enqueue by this name. kebab-case, no `:`. */
  readonly name: string;
  readonly queue: QueueName;
  /** One line for the catalogue. */
  readonly description: string;
  /**
   * The payload schema, a `z.strictObject`: checked strictly when enqueued (unknown fields refused)
   * and again when run, ignoring unknown fields a newer producer may add. Ids and parameters, never secrets.
   */
  readonly payload: S;
  /** Attempts, backoff and retention for this job, over the queue's defaults. */
  readonly options?: JobsOptions;
  /**
   * The entities whose tables the job reads or writes. The runner refuses to run the job while the
   * schema check finds one of them missing a table, a column or the unique key its idempotency relies on.
   */
  readonly entities?: readonly EntityClass[];
  /**
   * For work that may run again later (a sync): the BullMQ deduplication id of a payload, applied by
   * every producer (API, clock, outbox, ctx.enqueue), so a second request while one is queued or
   * running joins it instead of running beside it.
   */
  deduplicationId?(payload: z.output<S>): string;
  handle(payload: z.output<S>, ctx: JobContext): Promise<JobResult<R>>;
}

export function defineJob<S extends z.ZodType, R>(def: JobDefinition<S, R>): JobDefinition<S, R> {
  return def;
}

export type JobRegistry = ReadonlyMap<string, JobDefinition>;

const JOB_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** The registry, refusing what would misroute or shadow a job. Runs at import, so a bad one stops every process. */
export function buildRegistry(defs: readonly JobDefinition[]): JobRegistry {
  const registry = new Map<string, JobDefinition>();
  for (const def of defs) {
    if (!JOB_NAME.test(def.name)) throw new Error(`job name ${JSON.stringify(def.name)} must be kebab-case (no ":")`);
    if (registry.has(def.name)) throw new Error(`job ${def.name} is defined twice`);
    if (!isQueueName(def.queue)) throw new Error(`job ${def.name} names unknown queue ${JSON.stringify(def.queue)}`);
    if (typeof def.handle !== 'function') throw new Error(`job ${def.name} has no handler`);
    registry.set(def.name, def);
  }
  return registry;
}
