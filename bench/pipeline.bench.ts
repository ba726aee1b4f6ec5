import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker, type Processor, type RateLimiterOptions } from 'bullmq';
import pino from 'pino';
import { z } from 'zod';
import { createDataSource } from '../entities/data-source';
import { buildRegistry, defineJob, done } from '../jobs/define-job';
import type { Config } from '../lib/config';
import { createLogger } from '../lib/logger';
import { closeRedis, createRedis, waitForRedis } from '../lib/redis';
import { createEnqueue } from '../workers/enqueue';
import { QueueSet } from '../workers/queues';
import { createProcessor } from '../workers/run-job';
import { UNTHROTTLED } from '../workers/start-workers';
import { median, type BenchRow } from './table';

const JOBS = 50_000;
const CONCURRENCY = 50;
const RUNS = 3;
const QUEUE = 'messages';

const noop = defineJob({
  name: 'bench-noop',
  queue: QUEUE,
  description: 'does nothing: measures the pipeline (its one log line is the runner\'s)',
  payload: z.object({ n: z.number().int() }),
  async handle() {
    return done(null);
  },
});

/** Pre-fills `JOBS` jobs with addBulk, then times one worker draining them at `CONCURRENCY`. */
async function drain(config: Config, prefix: string, processor: Processor, limiter?: RateLimiterOptions, jobs = JOBS): Promise<number> {
  const connection = createRedis(config.redis.url, 'worker', 'jobhub-bench');
  const queue = new Queue(QUEUE, { connection, prefix });
  for (let i = 0; i < jobs; i += 1_000) {
    await queue.addBulk(Array.from({ length: Math.min(1_000, jobs - i) }, (_, k) => ({ name: noop.name, data: { n: i + k }, opts: { removeOnComplete: true } })));
  }
  let completed = 0;
  const started = performance.now();
  const worker = new Worker(QUEUE, processor, { connection, prefix, concurrency: CONCURRENCY, ...(limiter ? { limiter } : {}) });
  const finished = new Promise<number>((resolve, reject) => {
    worker.on('completed', () => {
      if (++completed === jobs) resolve(performance.now() - started);
    });
    worker.on('failed', (job, err) => reject(new Error(`bench job ${job?.id} failed: ${err.message}`)));
  });
  const ms = await finished;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await closeRedis(connection);
  return (jobs / ms) * 1_000;
}

/** No-op jobs through our runner (validation, context, one log line) against a bare BullMQ processor. */
export async function benchPipeline(config: Config): Promise<BenchRow> {
  const logDir = mkdtempSync(join(tmpdir(), 'jobhub-bench-'));
  const log = createLogger({ level: 'info', destination: pino.destination({ dest: join(logDir, 'pipeline.log'), sync: false }) });
  const db = await createDataSource(config);
  const redis = createRedis(config.redis.url, 'producer', 'jobhub-bench');
  await waitForRedis(redis);
  const prefix = `jobhub-bench-${process.pid}`;
  const queues = new QueueSet(redis, prefix);
  const ours = createProcessor({
    config,
    db,
    redis,
    log,
    registry: buildRegistry([noop]),
    enqueue: createEnqueue(queues),
    queues,
    now: () => new Date(),
  });
  const bare: Processor = async () => null;
  // Warm both code paths up (JIT, connections) before anything is timed.
  await drain(config, `${prefix}-warm`, bare, undefined, 5_000);
  await drain(config, `${prefix}-warm`, ours, UNTHROTTLED, 5_000);
  const bareRates: number[] = [];
  const ourRates: number[] = [];
  // Runs are paired back to back, their order alternating, and the ratio is the median of the
  // pairs' ratios: this machine's speed drifts between runs more than the pipeline costs.
  const measureBare = async (): Promise<void> => void bareRates.push(await drain(config, `${prefix}-bare`, bare));
  // The hub's workers carry a limiter so vendor rate limits work: part of what is measured.
  const measureOurs = async (): Promise<void> => void ourRates.push(await drain(config, `${prefix}-hub`, ours, UNTHROTTLED));
  for (let run = 0; run < RUNS; run++) {
    if (run % 2 === 0) {
      await measureBare();
      await measureOurs();
    } else {
      await measureOurs();
      await measureBare();
    }
  }
  await queues.close();
  await closeRedis(redis);
  await db.destroy();
  return {
    scenario: `no-op jobs: ${JOBS.toLocaleString('en-US')} pre-filled, concurrency ${CONCURRENCY}, median of ${RUNS} paired runs`,
    unit: 'jobs/s',
    baseline: { label: 'bare BullMQ', value: median(bareRates) },
    ours: { label: 'hub pipeline', value: median(ourRates) },
    ratio: median(ourRates.map((rate, i) => rate / (bareRates[i] as number))),
    targetRatio: 0.85,
    notes: `runs bare ${bareRates.map(Math.round).join(', ')}; hub ${ourRates.map(Math.round).join(', ')}; logs in ${logDir}`,
  };
}
