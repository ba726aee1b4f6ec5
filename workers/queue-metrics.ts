import type { Job } from 'bullmq';
import { Gauge, type LabelValues } from 'prom-client';
import type { DataSource } from 'typeorm';
import type { SmsProvider } from '../integrations/sms/sms.client';
import { smsCircuitKey } from '../jobs/messaging/sms-chain';
import { circuitIsOpen } from '../lib/circuit-breaker';
import { metricsRegistry } from '../lib/metrics';
import type { QueueName } from '../lib/queue-names';
import type { RedisConnection } from '../lib/redis';
import { oldestPendingOutboxSeconds } from './outbox-lag';
import type { QueueSet } from './queues';

const STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed', 'waiting-children'] as const;
// A record over the type: a provider added to SmsProvider and missing here fails the type check.
const SMS_PROVIDERS = Object.keys({ aliyun: true, tencent: true } satisfies Record<SmsProvider, true>) as SmsProvider[];

/** What the gauges read: the deployment's queues in Redis, hub_outbox in MySQL, the SMS circuits. */
export interface QueueMetricsSources {
  readonly queues: QueueSet;
  readonly db: DataSource;
  readonly redis: RedisConnection;
}

interface Watched {
  sources: QueueMetricsSources;
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

type Sample<L extends string> = [LabelValues<L>, number];

/**
 * A gauge read at scrape time, so the figures are as fresh as the scrape. It joins metricsRegistry
 * only while watched: a process that does not watch shows not even its HELP line. A read that fails
 * (Redis or MySQL away) leaves no figures rather than failing the scrape or keeping stale ones:
 * `jobhub_dependency_up` and /readyz tell why.
 */
function scrapedGauge<L extends string>(name: string, help: string, labelNames: readonly L[], read: (w: Watched) => Promise<Sample<L>[]>): { name: string; gauge: Gauge<L> } {
  const gauge = new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [],
    async collect() {
      const current = watched;
      let samples: Sample<L>[] = [];
      if (current) samples = await read(current).catch(() => []);
      this.reset();
      for (const [labels, value] of samples) this.set(labels, value);
    },
  });
  return { name, gauge };
}

const perQueue = async <L extends string>(w: Watched, read: (name: QueueName) => Promise<Sample<L>[]>): Promise<Sample<L>[]> =>
  (await Promise.all(w.names.map(read))).flat();

const GAUGES = [
  scrapedGauge('jobhub_queue_jobs', 'Jobs in each queue by state', ['queue', 'state'], (w) =>
    perQueue(w, async (queue) => {
      const counts = await w.sources.queues.get(queue).getJobCounts(...STATES);
      return STATES.map((state): Sample<'queue' | 'state'> => [{ queue, state }, counts[state] ?? 0]);
    }),
  ),
  scrapedGauge('jobhub_queue_oldest_waiting_seconds', 'Age of the oldest job ready to run and not yet picked up (0 when none)', ['queue'], (w) => {
    const now = Date.now();
    return perQueue(w, async (queue) => {
      const [oldest] = await w.sources.queues.get(queue).getJobs(['wait'], 0, 0, true);
      const readySince = oldest ? firstReadyAt(oldest) : now;
      return [[{ queue }, Math.max(0, (now - readySince) / 1_000)]];
    });
  }),
  // BullMQ names each worker's connection after its queue; CLIENT LIST is one command per queue.
  scrapedGauge('jobhub_queue_workers', 'Workers connected to each queue, in every process of the deployment', ['queue'], (w) =>
    perQueue(w, async (queue) => [[{ queue }, await w.sources.queues.get(queue).getWorkersCount()]]),
  ),
  scrapedGauge('jobhub_outbox_oldest_pending_seconds', 'Age of the oldest due hub_outbox row still PENDING, since its insert or its run_at (0 when none)', [], async (w) => [
    [{}, await oldestPendingOutboxSeconds(w.sources.db, new Date())],
  ]),
  // Read from the circuit's hash in Redis, which every worker shares: one figure for the deployment.
  scrapedGauge('jobhub_sms_circuit_open', 'SMS provider circuits: 1 while open (workers skip the provider), 0 closed or half-open', ['provider'], async (w) => {
    const now = new Date();
    const open = await Promise.all(SMS_PROVIDERS.map((provider) => circuitIsOpen(w.sources.redis, smsCircuitKey(w.sources.queues.keys, provider), now)));
    return SMS_PROVIDERS.map((provider, i): Sample<'provider'> => [{ provider }, open[i] ? 1 : 0]);
  }),
];

/** Every gauge's name, for checks of what `/metrics` can show. */
export const QUEUE_GAUGE_NAMES: readonly string[] = GAUGES.map(({ name }) => name);

/**
 * Queue depth, age and workers, outbox lag and SMS circuits in `/metrics` come from these sources.
 * The clock role calls it: one process per deployment, so each series is exported once rather
 * than by every web replica.
 */
export function watchQueueMetrics(sources: QueueMetricsSources, names: readonly QueueName[]): () => void {
  watched = { sources, names };
  for (const { name, gauge } of GAUGES) if (!metricsRegistry.getSingleMetric(name)) metricsRegistry.registerMetric(gauge);
  return () => {
    if (watched?.sources !== sources) return;
    watched = null;
    for (const { name } of GAUGES) metricsRegistry.removeSingleMetric(name);
  };
}
