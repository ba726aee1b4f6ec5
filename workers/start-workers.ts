import { setMaxListeners } from 'node:events';
import { MetricsTime, Worker, type Job } from 'bullmq';
import type { RedisConnection } from '../lib/redis';
import { settlesWithin } from '../lib/async';
import { jobDuration, jobsCompleted, jobsFailed, jobsRetried, jobsStalled, jobWait } from '../lib/metrics';
import type { JobResult } from '../jobs/define-job';
import type { ReadinessCheck } from '../lib/health';
import { markOutboxFailed, outboxIdOf } from './outbox-finish';
import type { QueueName } from '../lib/queue-names';
import { concurrencyOf } from './pool-size';
import { firstReadyAt } from './queue-metrics';
import { QUEUE_SETTINGS } from './queues';
import { createProcessor, moveBackToWait, type InFlight, type JobProcessor, type RunnerDeps, type RunningJob } from './run-job';
import { blockingConnectionStatus, startWorkerWatchdog } from './worker-watchdog';
import { redisKeys, type RedisKeys } from '../lib/redis-keys';

export interface WorkerPool {
  /** The workers running now: the watchdog may have replaced some since the start. */
  readonly workers: readonly Worker[];
  /**
   * Stops fetching at once and aborts `ctx.signal`; jobs that end within `graceMs` end normally,
   * those still running then are moved back to wait. Resolves without waiting for those.
   * Without `graceMs` it waits for every running job.
   */
  close(graceMs?: number): Promise<void>;
  /** For /readyz: every worker's blocking connection is up. */
  readonly readiness: ReadinessCheck;
}

export interface WorkerPoolOptions {
  queues: readonly QueueName[];
  /** A worker-role connection (maxRetriesPerRequest: null); BullMQ duplicates it for blocking reads. */
  connection: RedisConnection;
  /** Where the queues' keys are (a bare prefix: one server's layout). */
  keys: RedisKeys | string;
  /** A job's lock, and how often stalled jobs are looked for (BullMQ's defaults: 30 s). */
  lockMs?: number;
  /** How long a blocking connection may stay down, Redis answering, before its worker is recreated. */
  watchdogMs?: number;
  /** Jobs at once per worker, for every queue of the pool (the benchmark's); each queue's own by default. */
  concurrency?: number;
}

/**
 * BullMQ honours a manual rate limit (a vendor's 429) only on queues that have a limiter, so a
 * queue without a vendor limit gets one no real load reaches.
 */
export const UNTHROTTLED = { max: 100_000, duration: 1_000 };

/** How often a job may be found without a live lock (its worker died or lost Redis) before it fails. */
export const MAX_STALLS = 3;

function observeDuration(job: Job, queue: QueueName): void {
  if (job.processedOn === undefined) return;
  jobDuration.observe({ job: job.name, queue }, Math.max(0, (job.finishedOn ?? Date.now()) - job.processedOn) / 1_000);
}

/**
 * A job's first start only: BullMQ records when a job became ready (enqueued, or its delay's end)
 * for that one. A re-run's (a retry after its backoff, a stalled or handed-back job, a wait for
 * the database) is written nowhere, and the first ready time would count its earlier attempts.
 */
function observeWait(job: Job, queue: QueueName): void {
  if (job.attemptsStarted !== 1 || job.processedOn === undefined) return;
  jobWait.observe({ job: job.name, queue }, Math.max(0, job.processedOn - firstReadyAt(job)) / 1_000);
}

/** One BullMQ worker per selected queue, all running the same processor. */
export function startWorkers(deps: RunnerDeps, options: WorkerPoolOptions): WorkerPool {
  const stopping = new AbortController();
  // Every running job may listen to it (a sleep, a fetch): more than Node's default of 10 is normal.
  setMaxListeners(0, stopping.signal);
  const inFlight: InFlight = { stopping: stopping.signal, running: new Map() };
  const processor = createProcessor(deps, inFlight);
  const workers = new Map<QueueName, Worker>();
  for (const queue of options.queues) workers.set(queue, createWorker(deps, options, queue, processor));
  deps.log.info({ queues: options.queues }, 'workers started');

  const watchdog = startWorkerWatchdog({
    workers: () => [...workers.entries()],
    redis: deps.redis,
    downForMs: options.watchdogMs ?? 60_000,
    log: deps.log,
    recreate(queue, stuck) {
      workers.set(queue, createWorker(deps, options, queue, processor));
      // Its jobs go back to wait for the new worker (they would stall otherwise); a graceful close
      // would wait forever on the stuck fetch loop.
      const ownJob = (r: RunningJob): boolean => r.token?.startsWith(`${stuck.id}:`) ?? false;
      void handBackRunning(inFlight, deps, ownJob, 'worker recreated: its running jobs handed back to wait')
        .then(() => stuck.close(true))
        .catch((err: unknown) => deps.log.warn({ err, queue }, 'could not close the replaced worker'));
    },
  });

  return {
    get workers() {
      return [...workers.values()];
    },
    readiness: {
      name: 'workers',
      async run() {
        const down: string[] = [];
        for (const [queue, worker] of workers) {
          const status = await blockingConnectionStatus(worker);
          if (status !== 'ready') down.push(`${queue} (${status})`);
        }
        if (down.length > 0) throw new Error(`blocking connection not ready: ${down.join(', ')}`);
      },
    },
    async close(graceMs = Number.POSITIVE_INFINITY) {
      watchdog.stop();
      // ctx.signal of every running job: the runner gives handlers this, not BullMQ's per-job signal.
      stopping.abort('shutting down');
      const current = [...workers.values()];
      const closing = Promise.all(current.map((w) => w.close()));
      if (await settlesWithin(closing, graceMs)) return;
      await handBackRunning(inFlight, deps, () => true, 'shutdown deadline passed: running jobs handed back to wait');
    },
  };
}

function createWorker(deps: RunnerDeps, options: WorkerPoolOptions, queue: QueueName, processor: JobProcessor): Worker {
  const settings = QUEUE_SETTINGS[queue];
  const lockMs = options.lockMs ?? 30_000;
  const worker = new Worker(queue, processor, {
    connection: options.connection,
    prefix: redisKeys(options.keys).queuePrefix(queue),
    concurrency: options.concurrency ?? concurrencyOf(deps.config, queue),
    limiter: settings.limiter ?? UNTHROTTLED,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    // After an outage longer than the lock, a job can stall twice: once while Redis was away, and
    // once more if this worker takes it again before its lost first run has been cleaned up
    // (BullMQ tracks locks by job id). Three stalls mean a job that kills its worker.
    maxStalledCount: MAX_STALLS,
    // Finished jobs per minute, kept a week, for the dashboard's charts: per queue, for completed
    // and for failed, a hash and a list of at most 10,080 small integers (about 27 KB full); a few
    // commands more in the script that finishes a job.
    metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
  });
  worker.on('error', (err) => deps.log.error({ err, queue }, 'worker error'));
  worker.on('active', (job) => observeWait(job, queue));
  // Emitted by whichever worker's check found the stall (one check moves each job once), for a job any worker ran.
  worker.on('stalled', () => jobsStalled.inc({ queue }));
  worker.on('completed', (job, result: JobResult | undefined) => {
    jobsCompleted.inc({ job: job.name, queue, status: result?.status ?? 'done' });
    observeDuration(job, queue);
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = job.finishedOn !== undefined;
    (final ? jobsFailed : jobsRetried).inc({ job: job.name, queue });
    observeDuration(job, queue);
    const outboxId = final ? outboxIdOf(job.id) : undefined;
    // Failed for good, its row says so: the sweeper never brings back what ops must look at.
    if (outboxId) void markOutboxFailed(deps.db, outboxId, err.message, deps.now()).catch((e: unknown) => deps.log.warn({ err: e, outboxId }, 'could not mark the outbox row failed'));
    deps.log[final ? 'error' : 'warn'](
      { job: job.name, jobId: job.id, queue, attemptsMade: job.attemptsMade, reason: err.message },
      final ? 'job failed for good' : 'job attempt failed',
    );
  });
  return worker;
}

/** Running jobs (those `which` picks) go back to wait, for another worker to run. */
async function handBackRunning(inFlight: InFlight, deps: RunnerDeps, which: (r: RunningJob) => boolean, message: string): Promise<void> {
  const running = [...inFlight.running.values()].filter(which);
  const moved = await Promise.all(
    running.map((r) =>
      moveBackToWait(r).catch((err: unknown) => {
        deps.log.warn({ err, jobId: r.job.id }, 'could not hand the job back: stalled detection will');
        return false;
      }),
    ),
  );
  const handedBack = running.filter((_, i) => moved[i]).map((r) => r.job.id);
  if (handedBack.length > 0) deps.log.warn({ jobIds: handedBack }, message);
}
