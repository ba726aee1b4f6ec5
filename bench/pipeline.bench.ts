import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import pino from 'pino';
import { z } from 'zod';
import { createDataSource } from '../entities/data-source';
import { buildRegistry, defineJob, done } from '../jobs/define-job';
import type { Config } from '../lib/config';
import { createLogger } from '../lib/logger';
import { jobsCompleted } from '../lib/metrics';
import { closeRedis, createRedis, waitForRedis, type RedisConnection } from '../lib/redis';
import { createEnqueue } from '../workers/enqueue';
import { QueueSet } from '../workers/queues';
import { NO_INTEGRATIONS } from '../integrations';
import type { RunnerDeps } from '../workers/run-job';
import { startWorkers } from '../workers/start-workers';
import { median, pairedRun, type BenchRow } from './table';

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

/** What one side of the bench starts on a fresh connection: a worker to count completions on, and how to stop it. */
interface Side {
  worker: Worker;
  close(): Promise<void>;
}

/** A bare BullMQ worker: default options, a processor that does nothing. */
const bareSide = (connection: RedisConnection, prefix: string): Side => {
  const worker = new Worker(QUEUE, async () => null, { connection, prefix, concurrency: CONCURRENCY });
  return { worker, close: () => worker.close() };
};

/**
 * The hub's worker pool as the worker process starts it (`startWorkers`): the queue's production
 * settings (its limiter, if it has one), the runner (validation, context, one log line) and the
 * metrics listeners. Only the concurrency is the bench's, the same as the bare side's.
 */
const hubSide =
  (deps: RunnerDeps) =>
  (connection: RedisConnection, prefix: string): Side => {
    const pool = startWorkers(deps, { queues: [QUEUE], connection, keys: prefix, concurrency: CONCURRENCY });
    const [worker] = pool.workers;
    if (!worker) throw new Error('startWorkers started no worker');
    return { worker, close: () => pool.close() };
  };

/** Pre-fills `jobs` jobs with addBulk, then times one side draining them; jobs/s. */
async function drain(config: Config, prefix: string, start: (connection: RedisConnection, prefix: string) => Side, jobs = JOBS): Promise<number> {
  const connection = createRedis(config.redis, 'worker', 'jobhub-bench');
  const queue = new Queue(QUEUE, { connection, prefix });
  for (let i = 0; i < jobs; i += 1_000) {
    await queue.addBulk(Array.from({ length: Math.min(1_000, jobs - i) }, (_, k) => ({ name: noop.name, data: { n: i + k }, opts: { removeOnComplete: true } })));
  }
  let completed = 0;
  const started = performance.now();
  const side = start(connection, prefix);
  const ms = await new Promise<number>((resolve, reject) => {
    side.worker.on('completed', () => {
      if (++completed === jobs) resolve(performance.now() - started);
    });
    side.worker.on('failed', (job, err) => reject(new Error(`bench job ${job?.id} failed: ${err.message}`)));
  });
  await side.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await closeRedis(connection);
  return (jobs / ms) * 1_000;
}

/** Completions the hub's metrics counted for the bench job: proves the measured path recorded them. */
async function countedCompletions(): Promise<number> {
  const { values } = await jobsCompleted.get();
  return values.filter((v) => v.labels.job === noop.name).reduce((sum, v) => sum + v.value, 0);
}

/** No-op jobs through the hub's worker pool (validation, context, one log line, metrics) against a bare BullMQ worker. */
export async function benchPipeline(config: Config): Promise<BenchRow> {
  const logDir = mkdtempSync(join(tmpdir(), 'jobhub-bench-'));
  const logFile = join(logDir, 'pipeline.log');
  const destination = pino.destination({ dest: logFile, sync: false });
  const log = createLogger({ level: 'info', destination });
  const db = await createDataSource(config);
  const redis = createRedis(config.redis, 'producer', 'jobhub-bench');
  await waitForRedis(redis);
  const prefix = `jobhub-bench-${process.pid}`;
  const queues = new QueueSet(redis, prefix);
  const hub = hubSide({
    config,
    db,
    redis,
    log,
    registry: buildRegistry([noop]),
    enqueue: createEnqueue(queues),
    integrations: NO_INTEGRATIONS,
    queues,
    now: () => new Date(),
  });
  let hubJobs = 0;
  const measureHub = async (jobs = JOBS): Promise<number> => {
    const before = await countedCompletions();
    const rate = await drain(config, `${prefix}-hub`, hub, jobs);
    hubJobs += jobs;
    const counted = (await countedCompletions()) - before;
    if (counted !== jobs) throw new Error(`the hub's metrics counted ${counted} completions of ${jobs} jobs`);
    return rate;
  };
  // Warm both code paths up (JIT, connections) before anything is timed.
  await drain(config, `${prefix}-warm`, bareSide, 5_000);
  await measureHub(5_000);
  const bareRates: number[] = [];
  const ourRates: number[] = [];
  // Runs are paired back to back, their order alternating, and the ratio is the median of the
  // pairs' ratios: this machine's speed drifts between runs more than the pipeline costs.
  const measureBare = async (): Promise<void> => void bareRates.push(await drain(config, `${prefix}-bare`, bareSide));
  const measureOurs = async (): Promise<void> => void ourRates.push(await measureHub());
  for (let run = 0; run < RUNS; run++) await pairedRun(run, measureBare, measureOurs);
  await queues.close();
  await closeRedis(redis);
  await db.destroy();
  destination.end();
  await once(destination, 'close');
  const logged = readFileSync(logFile, 'utf8').split('\n').filter((line) => line.includes('"msg":"job finished"')).length;
  if (logged !== hubJobs) throw new Error(`the hub logged ${logged} "job finished" lines for ${hubJobs} jobs`);
  return {
    scenario: `no-op jobs: ${JOBS.toLocaleString('en-US')} pre-filled, concurrency ${CONCURRENCY}, median of ${RUNS} paired runs`,
    unit: 'jobs/s',
    baseline: { label: 'bare BullMQ', value: median(bareRates) },
    ours: { label: 'hub worker pool', value: median(ourRates) },
    ratio: median(ourRates.map((rate, i) => rate / (bareRates[i] as number))),
    targetRatio: 0.85,
    notes: `runs bare ${bareRates.map(Math.round).join(', ')}; hub ${ourRates.map(Math.round).join(', ')}; every hub job logged and counted; logs in ${logDir}`,
  };
}
