import type { Job } from 'bullmq';
import { Gauge } from 'prom-client';
import { metricsRegistry } from '../lib/metrics';
import type { QueueName } from '../lib/queue-names';
import type { QueueSet } from './queues';

const STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed', 'waiting-children'] as const;

interface Watched {
  queues: QueueSet;
  names: readonly QueueName[];
}

let watched: Watched | null = null;

/**
 * When a job first became ready to run: enqueued, or its delay's end. From the delay it was added
 * with: BullMQ sets the job's `delay` field to 0 when it promotes a delayed job.
 */
export function firstReadyAt(job: Pick<Job, 'timestamp' | 'opts'>): number {
  return job.timestamp + (job.opts.delay ?? 0);
}

const QUEUE_JOBS = 'jobhub_queue_jobs';
const OLDEST_WAITING = 'jobhub_queue_oldest_waiting_seconds';

/**
 * Read from Redis at scrape time, so the figures are as fresh as the scrape. They join
 * metricsRegistry only while watched: a process that does not watch shows not even their HELP lines.
 */
const queueJobs = new Gauge({
  name: QUEUE_JOBS,
  help: 'Jobs in each queue by state',
  labelNames: ['queue', 'state'] as const,
  registers: [],
  async collect() {
    this.reset();
    if (!watched) return;
    try {
      for (const name of watched.names) {
        const counts = await watched.queues.get(name).getJobCounts(...STATES);
        for (const state of STATES) this.set({ queue: name, state }, counts[state] ?? 0);
      }
    } catch {
      this.reset(); // Redis away: no figures rather than a failed scrape; /readyz tells why
    }
  },
});

const oldestWaiting = new Gauge({
  name: OLDEST_WAITING,
  help: 'Age of the oldest job ready to run and not yet picked up (0 when none)',
  labelNames: ['queue'] as const,
  registers: [],
  async collect() {
    this.reset();
    if (!watched) return;
    const now = Date.now();
    try {
      for (const name of watched.names) {
        const [oldest] = await watched.queues.get(name).getJobs(['wait'], 0, 0, true);
        const readySince = oldest ? firstReadyAt(oldest) : now;
        this.set({ queue: name }, Math.max(0, (now - readySince) / 1_000));
      }
    } catch {
      this.reset();
    }
  },
});

const GAUGES = [
  { name: QUEUE_JOBS, gauge: queueJobs },
  { name: OLDEST_WAITING, gauge: oldestWaiting },
];

/**
 * Queue depth and age in `/metrics` come from these queues. The clock role calls it: one process
 * per deployment, so each queue's series is exported once rather than by every web replica.
 */
export function watchQueueMetrics(queues: QueueSet, names: readonly QueueName[]): () => void {
  watched = { queues, names };
  for (const { name, gauge } of GAUGES) if (!metricsRegistry.getSingleMetric(name)) metricsRegistry.registerMetric(gauge);
  return () => {
    if (watched?.queues !== queues) return;
    watched = null;
    for (const { name } of GAUGES) metricsRegistry.removeSingleMetric(name);
  };
}
