import type { JobsOptions } from 'bullmq';
import type { RedisConnection } from '../lib/redis';
import type { DataSource, EntityManager } from 'typeorm';
import type { z } from 'zod';
import type { Integrations } from '../integrations';
import type { QueueName } from '../lib/queue-names';
import type { AuditEntry } from '../entities/dms/audit';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';

/** What `ctx.enqueue` needs of a job definition. */
export interface Enqueueable<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly queue: QueueName;
  readonly payload: S;
  readonly options?: JobsOptions;
  /** A job that may run again later (a sync): the BullMQ deduplication id its payload runs under, whoever enqueues it. */
  deduplicationId?(payload: z.output<S>): string;
}

export interface EnqueueOptions {
  /** For work that happens once ever (a refund, a cron slot). No `:`, never a bare integer. */
  jobId?: string;
  /** For work that may run again later (a sync, a poll): blocks duplicates while one is queued or running. */
  deduplicationId?: string;
  delay?: number;
  priority?: number;
}

export interface EnqueuedJob {
  id: string;
  name: string;
  queue: QueueName;
}

export type Enqueue = <S extends z.ZodType>(def: Enqueueable<S>, payload: z.input<S>, options?: EnqueueOptions) => Promise<EnqueuedJob>;

/** Everything a handler may use; explicit, no container. */
export interface JobContext {
  readonly config: Config;
  readonly db: DataSource;
  readonly redis: RedisConnection;
  /** Bound to the job's name, id, queue and attempt. */
  readonly log: Logger;
  /** The outside systems (live, or pointed at their emulators). */
  readonly integrations: Integrations;
  readonly job: { readonly id: string; readonly name: string; readonly attempt: number };
  /** Validates, then adds; follow-up work is enqueued after the transaction commits. */
  readonly enqueue: Enqueue;
  /**
   * Reports progress to the dashboard and the jobs API: with a total, a whole percentage the
   * dashboard draws (`{ progress, done, total }`); without, the count (`{ done }`). Give a total
   * when it is known or cheap (a vendor's, a COUNT over a primary-key range). Call it as often as
   * is handy: at most one write a second reaches Redis, and the last value is written when the
   * handler ends (workers/job-progress.ts).
   */
  progress(done: number, total?: number): Promise<void>;
  /** Writes the `dms_business_log` row inside the transaction of the change. */
  audit(manager: EntityManager, entry: AuditEntry): Promise<void>;
  /** The current time: handlers never read the clock or call NOW() in SQL. */
  now(): Date;
  /** Aborted on shutdown or cancellation: long jobs check it between batches. */
  readonly signal: AbortSignal;
}
