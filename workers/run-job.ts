import { DelayedError, RateLimitError, UnrecoverableError, WaitingError, type Job } from 'bullmq';
import type { RedisConnection } from '../lib/redis';
import type { DataSource } from 'typeorm';
import { auditAt } from '../entities/dms/audit';
import type { Config } from '../lib/config';
import type { Enqueue, JobContext } from '../jobs/context';
import {
  DeferredError,
  PermanentError,
  RateLimitedError,
  RetryableError,
  isDatabaseUnavailableError,
  isTransientDatabaseError,
} from '../lib/errors';
import type { Logger } from '../lib/logger';
import { jobsHandedBack, jobsWaitingForDatabase } from '../lib/metrics';
import { parsePayloadIgnoringUnknownFields } from '../lib/validation';
import type { JobRegistry, JobResult } from '../jobs/define-job';
import type { QueueName } from '../lib/queue-names';
import { DatabaseOutage } from './database-outage';
import { throttleProgress, type ProgressReporter } from './job-progress';
import { markOutboxDone, outboxIdOf } from './outbox-finish';
import { QUEUE_SETTINGS, type QueueSet } from './queues';
import type { SchemaGuard } from './schema-guard';
import type { Integrations } from '../integrations';

export interface RunnerDeps {
  config: Config;
  db: DataSource;
  redis: RedisConnection;
  log: Logger;
  registry: JobRegistry;
  enqueue: Enqueue;
  integrations: Integrations;
  /** Producer-side queues: a vendor's rate limit is set on the queue, for every worker. */
  queues: QueueSet;
  now: () => Date;
  /** Refuses jobs whose tables lack a column or key they rely on; absent where no check runs. */
  schema?: Pick<SchemaGuard, 'refusalFor'>;
}

const NEVER_ABORTED = new AbortController().signal;

export type JobProcessor = (job: Job, token?: string) => Promise<JobResult>;

/** A job running in this process, with the lock token that lets the pool hand it back. */
export interface RunningJob {
  readonly job: Job;
  readonly token: string | undefined;
  /** Set by the pool when it moved the job back to wait at the shutdown deadline. */
  handedBack: boolean;
}

/** What the worker pool and the runner share so that a shutdown hands work back instead of dropping it. */
export interface InFlight {
  /** Aborted when the process starts shutting down. */
  readonly stopping: AbortSignal;
  /** By `<queue>/<job id>`. */
  readonly running: Map<string, RunningJob>;
}

/** For a runner outside a pool (benchmarks, tests): never shutting down. */
export const standalone = (): InFlight => ({ stopping: NEVER_ABORTED, running: new Map() });

/**
 * The one processor every queue runs: find the job → validate the payload again (unknown fields
 * ignored) → check the schema it relies on → build a job-scoped context → handle → turn our error
 * classes into BullMQ's behaviour. During a shutdown, a job that stops on `ctx.signal` goes
 * straight back to wait.
 */
export function createProcessor(deps: RunnerDeps, inFlight: InFlight = standalone()): JobProcessor {
  // Two parameters: given a third, BullMQ makes an AbortController per job, which costs more than
  // the rest of the runner. ctx.signal is the pool's, aborted at shutdown, the only time the hub
  // cancels jobs.
  return async (job, token) => {
    const log = deps.log.child({ job: job.name, jobId: job.id, queue: job.queueName, attempt: job.attemptsMade + 1 });
    const started = performance.now();
    // Ids are unique within a queue only (BullMQ numbers each queue's jobs from 1).
    const key = `${job.queueName}/${job.id ?? ''}`;
    const running: RunningJob = { job, token, handedBack: false };
    inFlight.running.set(key, running);
    try {
      if (inFlight.stopping.aborted) return await handBack(running, log, 'the worker is shutting down');
      const def = deps.registry.get(job.name);
      if (!def) throw new PermanentError('UNKNOWN_JOB', `no job named ${JSON.stringify(job.name)} in this hub`);
      const { payload, ignoredFields } = parsePayloadIgnoringUnknownFields(def.payload, job.data);
      if (ignoredFields.length > 0) warnUnknownFieldsOnce(log, job.name, ignoredFields);
      const refusal = deps.schema?.refusalFor(def);
      if (refusal) throw new PermanentError('SCHEMA_MISMATCH', refusal);
      // Flushed whatever the outcome: the last value is written, and no timer outlives the handler.
      const progress = throttleProgress((value) => job.updateProgress(value), { onError: (err) => log.warn({ err }, 'job progress not written') });
      const result = await def.handle(payload, buildContext(deps, job, log, inFlight.stopping, progress)).finally(() => progress.flush());
      if (running.handedBack) return await handBack(running, log, 'finished after the shutdown deadline');
      databaseOutage.over();
      await markOutboxFinished(deps, job, log);
      log.info({ status: result.status, ms: Math.round(performance.now() - started) }, 'job finished');
      return result;
    } catch (err) {
      if (err instanceof WaitingError) throw err;
      if (inFlight.stopping.aborted) return await handBack(running, log, 'stopped for the shutdown');
      return await handleFailure(err, { job, token, log, queues: deps.queues });
    } finally {
      inFlight.running.delete(key);
    }
  };
}

/** This process's view of a database outage, shared by every job it runs. */
const databaseOutage = new DatabaseOutage();

/** Job names with the unknown fields already warned about, in this process. */
const warnedUnknownFields = new Set<string>();
/** Beyond this many sets of fields (a producer inventing names), the memory is started afresh. */
const WARNED_UNKNOWN_FIELDS_MAX = 1_000;

/**
 * Once per job name and set of fields per process: during a rolling deploy every job of the newer
 * producers carries the same new field, and one line says it.
 */
function warnUnknownFieldsOnce(log: Logger, jobName: string, fields: readonly string[]): void {
  const sorted = [...fields].sort();
  const key = `${jobName} ${sorted.join(' ')}`;
  if (warnedUnknownFields.has(key)) return;
  if (warnedUnknownFields.size >= WARNED_UNKNOWN_FIELDS_MAX) warnedUnknownFields.clear();
  warnedUnknownFields.add(key);
  log.warn({ ignoredFields: sorted }, 'payload fields unknown to this version ignored (a newer producer?): said once per job name and fields');
}

/**
 * Back to wait, keeping its attempts: another worker runs it from the start (handlers are
 * idempotent). Left to stalled detection it would wait a lock's length and count as a stall.
 */
async function handBack(running: RunningJob, log: Logger, reason: string): Promise<never> {
  if (await moveBackToWait(running)) log.info({ reason }, 'job handed back to wait');
  else log.warn({ reason }, 'job ran on after it was handed back: its next run finds the work done');
  throw new WaitingError();
}

/** Moves a running job back to wait, once: false when it already was. Used by the runner and, at the deadline, the pool. */
export async function moveBackToWait(running: RunningJob): Promise<boolean> {
  if (running.handedBack) return false;
  await running.job.moveToWait(running.token);
  running.handedBack = true;
  jobsHandedBack.inc({ job: running.job.name, queue: running.job.queueName });
  return true;
}

/** A job from hub_outbox marks its row done while still active, so the sweeper never takes it for lost. */
async function markOutboxFinished(deps: RunnerDeps, job: Job, log: Logger): Promise<void> {
  const outboxId = outboxIdOf(job.id);
  if (outboxId === undefined) return;
  // Best effort: should it fail, the sweeper may run the job again, and handlers are idempotent.
  await markOutboxDone(deps.db, outboxId, deps.now()).catch((err: unknown) => log.warn({ err, outboxId }, 'could not mark the outbox row done'));
}

function buildContext(deps: RunnerDeps, job: Job, log: Logger, signal: AbortSignal, progress: ProgressReporter): JobContext {
  return {
    config: deps.config,
    db: deps.db,
    redis: deps.redis,
    log,
    integrations: deps.integrations,
    job: { id: job.id ?? '', name: job.name, attempt: job.attemptsMade + 1 },
    enqueue: deps.enqueue,
    progress: (done, total) => progress.report(done, total),
    audit: auditAt(deps.now),
    now: deps.now,
    signal,
  };
}

interface FailureScope {
  job: Job;
  token: string | undefined;
  log: Logger;
  queues: QueueSet;
}

/**
 * Throws what BullMQ understands. A duplicate key is no exception: a handler that finds its own
 * idempotency key taken returns `skipped` itself (lib/errors.ts writeOnce), so one that reaches
 * here hit some other key, a bug, and is retried as unknown errors are.
 */
async function handleFailure(err: unknown, { job, token, log, queues }: FailureScope): Promise<never> {
  if (isDatabaseUnavailableError(err)) {
    // Nothing is wrong with the job: it waits for the database however long that takes.
    const waitMs = databaseOutage.waitMs();
    log.warn({ err, waitMs }, 'database unavailable: the job waits for it without using an attempt');
    jobsWaitingForDatabase.inc({ job: job.name, queue: job.queueName });
    await job.moveToDelayed(Date.now() + waitMs, token);
    throw new DelayedError();
  }
  if (err instanceof RateLimitedError) {
    const queue = job.queueName as QueueName;
    if (QUEUE_SETTINGS[queue].rateLimitScope === 'queue') {
      log.warn({ retryAfterMs: err.retryAfterMs, reason: err.message }, 'queue rate limited');
      await queues.get(queue).rateLimit(err.retryAfterMs);
      throw new RateLimitError();
    }
    // The queue carries other accounts' work too: only this job waits.
    log.warn({ retryAfterMs: err.retryAfterMs, reason: err.message }, 'job rate limited: delayed');
    await job.moveToDelayed(Date.now() + err.retryAfterMs, token);
    throw new DelayedError();
  }
  if (err instanceof DeferredError) {
    log.info({ until: new Date(err.untilMs).toISOString(), reason: err.message }, 'job deferred');
    await job.moveToDelayed(err.untilMs, token);
    throw new DelayedError();
  }
  if (err instanceof PermanentError) {
    log.error({ err }, 'job failed permanently');
    throw new UnrecoverableError(`${err.code}: ${err.message}`);
  }
  if (err instanceof RetryableError || isTransientDatabaseError(err)) {
    log.warn({ err }, 'job failed, will retry');
    throw err;
  }
  // Unknown errors are retried within the job's attempts: a bug shows up as a failed job, not a lost one.
  log.error({ err }, 'job failed unexpectedly');
  throw err;
}
