import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { jobDuration, jobsCompleted, jobsFailed, jobsRetried } from '../lib/metrics';
import type { JobResult } from '../jobs/define-job';
import type { QueueName } from './queue-names';
import { QUEUE_SETTINGS } from './queues';
import { createProcessor, type RunnerDeps } from './run-job';

export interface WorkerPool {
  readonly workers: readonly Worker[];
  close(): Promise<void>;
}

export interface WorkerPoolOptions {
  queues: readonly QueueName[];
  /** A worker-role connection (maxRetriesPerRequest: null); BullMQ duplicates it for blocking reads. */
  connection: Redis;
  prefix: string;
}

/**
 * BullMQ honours a manual rate limit (a vendor's 429) only on queues that have a limiter, so a
 * queue without a vendor limit gets one no real load reaches.
 */
export const UNTHROTTLED = { max: 100_000, duration: 1_000 };

function observeDuration(job: Job, queue: QueueName): void {
  if (job.processedOn === undefined) return;
  jobDuration.observe({ job: job.name, queue }, Math.max(0, (job.finishedOn ?? Date.now()) - job.processedOn) / 1_000);
}

/** One BullMQ worker per selected queue, all running the same processor. */
export function startWorkers(deps: RunnerDeps, options: WorkerPoolOptions): WorkerPool {
  const workers = options.queues.map((queue) => {
    const settings = QUEUE_SETTINGS[queue];
    const worker = new Worker(queue, createProcessor(deps), {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: settings.concurrency,
      limiter: settings.limiter ?? UNTHROTTLED,
    });
    worker.on('error', (err) => deps.log.error({ err, queue }, 'worker error'));
    worker.on('completed', (job, result: JobResult | undefined) => {
      jobsCompleted.inc({ job: job.name, queue, status: result?.status ?? 'done' });
      observeDuration(job, queue);
    });
    worker.on('failed', (job, err) => {
      if (!job) return;
      const final = job.finishedOn !== undefined;
      (final ? jobsFailed : jobsRetried).inc({ job: job.name, queue });
      observeDuration(job, queue);
      deps.log[final ? 'error' : 'warn'](
        { job: job.name, jobId: job.id, queue, attemptsMade: job.attemptsMade, reason: err.message },
        final ? 'job failed for good' : 'job attempt failed',
      );
    });
    return worker;
  });
  deps.log.info({ queues: options.queues }, 'workers started');
  return {
    workers,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
