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
 * Read from Redis at scrape time, so the figures are as fresh as the scrape. Both gauges are read
 * only through metricsRegistry, which they join when built.
 */
new Gauge({
  name: 'jobhub_queue_jobs',
  help: 'Jobs in each queue by state',
  labelNames: ['queue', 'state'] as const,
  registers: [metricsRegistry],
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

new Gauge({
  name: 'jobhub_queue_oldest_waiting_seconds',
  help: 'Age of the oldest job ready to run and not yet picked up (0 when none)',
  labelNames: ['queue'] as const,
  registers: [metricsRegistry],
  async collect() {
    this.reset();
    if (!watched) return;
    const now = Date.now();
    try {
      for (const name of watched.names) {
        const [oldest] = await watched.queues.get(name).getJobs(['wait'], 0, 0, true);
        const readySince = oldest ? oldest.timestamp + (oldest.delay ?? 0) : now;
        this.set({ queue: name }, Math.max(0, (now - readySince) / 1_000));
      }
    } catch {
      this.reset();
    }
  },
});

/** Queue depth and age in `/metrics` come from these queues; one process of a deployment (web) reports them. */
export function watchQueueMetrics(queues: QueueSet, names: readonly QueueName[]): () => void {
  watched = { queues, names };
  return () => {
    if (watched?.queues === queues) watched = null;
  };
}
