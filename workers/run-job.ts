import { DelayedError, RateLimitError, UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { writeAudit } from '../lib/audit';
import type { Config } from '../lib/config';
import type { Enqueue, JobContext } from '../lib/context';
import {
  DeferredError,
  PermanentError,
  RateLimitedError,
  RetryableError,
  isDuplicateKeyError,
  isTransientDatabaseError,
} from '../lib/errors';
import type { Logger } from '../lib/logger';
import { parsePayload } from '../lib/validation';
import { skipped, type JobRegistry, type JobResult } from '../jobs/define-job';
import type { QueueName } from './queue-names';
import type { QueueSet } from './queues';

export interface RunnerDeps {
  config: Config;
  db: DataSource;
  redis: Redis;
  log: Logger;
  registry: JobRegistry;
  enqueue: Enqueue;
  /** Producer-side queues: a vendor's rate limit is set on the queue, for every worker. */
  queues: QueueSet;
  now: () => Date;
}

const NEVER_ABORTED = new AbortController().signal;

export type JobProcessor = (job: Job, token?: string, signal?: AbortSignal) => Promise<JobResult>;

/**
 * The one processor every queue runs: find the job → validate the payload again → build a
 * job-scoped context → handle → turn our error classes into BullMQ's behaviour.
 */
export function createProcessor(deps: RunnerDeps): JobProcessor {
  return async (job, token, cancelSignal) => {
    const log = deps.log.child({ job: job.name, jobId: job.id, queue: job.queueName, attempt: job.attemptsMade + 1 });
    const started = performance.now();
    try {
      const def = deps.registry.get(job.name);
      if (!def) throw new PermanentError('UNKNOWN_JOB', `no job named ${JSON.stringify(job.name)} in this hub`);
      const payload = parsePayload(def.payload, job.data);
      // BullMQ aborts it on worker.cancelJob / cancelAllJobs (shutdown).
      const signal = cancelSignal ?? NEVER_ABORTED;
      const result = await def.handle(payload, buildContext(deps, job, log, signal));
      log.info({ status: result.status, ms: Math.round(performance.now() - started) }, 'job finished');
      return result;
    } catch (err) {
      return handleFailure(err, { job, token, log, queues: deps.queues });
    }
  };
}

function buildContext(deps: RunnerDeps, job: Job, log: Logger, signal: AbortSignal): JobContext {
  return {
    config: deps.config,
    db: deps.db,
    redis: deps.redis,
    log,
    job: { id: job.id ?? '', name: job.name, attempt: job.attemptsMade + 1 },
    enqueue: deps.enqueue,
    progress: (done, total) => job.updateProgress(total === undefined ? { done } : { done, total }),
    audit: (manager, entry) => writeAudit(manager, entry, deps.now()),
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

/** Returns a result (duplicate key: already done) or throws what BullMQ understands. */
async function handleFailure(err: unknown, { job, token, log, queues }: FailureScope): Promise<JobResult> {
  if (isDuplicateKeyError(err)) {
    log.info({ err }, 'idempotency key already present: skipped');
    return skipped('duplicate key: the work was already done');
  }
  if (err instanceof RateLimitedError) {
    log.warn({ retryAfterMs: err.retryAfterMs }, 'queue rate limited');
    await queues.get(job.queueName as QueueName).rateLimit(err.retryAfterMs);
    throw new RateLimitError();
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
