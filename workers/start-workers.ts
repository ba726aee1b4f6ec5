import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
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

/** One BullMQ worker per selected queue, all running the same processor. */
export function startWorkers(deps: RunnerDeps, options: WorkerPoolOptions): WorkerPool {
  const workers = options.queues.map((queue) => {
    const settings = QUEUE_SETTINGS[queue];
    const worker: Worker = new Worker(queue, createProcessor(deps, () => worker), {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: settings.concurrency,
      ...(settings.limiter ? { limiter: settings.limiter } : {}),
    });
    worker.on('error', (err) => deps.log.error({ err, queue }, 'worker error'));
    worker.on('failed', (job, err) => {
      if (!job) return;
      const final = job.finishedOn !== undefined;
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
