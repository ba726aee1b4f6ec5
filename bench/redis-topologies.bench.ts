import pino from 'pino';
import { z } from 'zod';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../entities/data-source';
import { NO_INTEGRATIONS } from '../integrations';
import { buildRegistry, defineJob, done, type JobDefinition } from '../jobs/define-job';
import type { Config } from '../lib/config';
import type { RedisConfig } from '../lib/config-redis';
import { createLogger } from '../lib/logger';
import type { QueueName } from '../lib/queue-names';
import { closeRedis, createRedis, waitForRedis, type RedisConnection } from '../lib/redis';
import { hubRedisKeys } from '../lib/redis-keys';
import { createEnqueue } from '../workers/enqueue';
import { QueueSet } from '../workers/queues';
import { startWorkers } from '../workers/start-workers';
import { startPrivateRedis } from '../test/support/private-redis';
import { startPrivateCluster } from '../test/support/redis-cluster';
import { SENTINEL_MASTER, startSentinelSet } from '../test/support/redis-sentinel';
import { median, pairedRun, type BenchRow } from './table';

const CONCURRENCY = 50;
const RUNS = 3;
const JOBS = 20_000;
/**
 * Two queues on two shards of an evenly split three-primary cluster: `{messages}` hashes to slot
 * 8959, `{ops}` to 12791 (no queue's tag falls in the first third, 0–5460).
 */
const SPREAD: readonly QueueName[] = ['messages', 'ops'];

const noops = new Map<QueueName, JobDefinition>(
  (['messages', 'email', 'ops'] as const).map((queue) => [
    queue,
    defineJob({ name: `bench-noop-${queue}`, queue, description: 'does nothing: measures the pipeline', payload: z.object({ n: z.number().int() }), handle: async () => done(null) }),
  ]),
);

/** The hub's worker pool draining `jobs` pre-filled no-op jobs from each of `queues` at once; jobs/s over all. */
async function drain(config: Config, db: DataSource, queueNames: readonly QueueName[], jobs: number): Promise<number> {
  const log = createLogger({ level: 'warn', destination: pino.destination('/dev/null') });
  const producer = createRedis(config.redis, 'producer', 'jobhub-bench');
  const connection: RedisConnection = createRedis(config.redis, 'worker', 'jobhub-bench');
  await waitForRedis(producer);
  const keys = hubRedisKeys(config.redis);
  const queues = new QueueSet(producer, keys);
  for (const name of queueNames) {
    const def = noops.get(name) as JobDefinition;
    for (let i = 0; i < jobs; i += 1_000) {
      await queues.get(name).addBulk(Array.from({ length: Math.min(1_000, jobs - i) }, (_, k) => ({ name: def.name, data: { n: i + k }, opts: { removeOnComplete: true } })));
    }
  }
  const registry = buildRegistry([...noops.values()]);
  let completed = 0;
  const total = jobs * queueNames.length;
  const started = performance.now();
  const pool = startWorkers(
    { config, db, redis: producer, log, registry, enqueue: createEnqueue(queues), integrations: NO_INTEGRATIONS, queues, now: () => new Date() },
    { queues: queueNames, connection, keys, concurrency: CONCURRENCY },
  );
  const ms = await new Promise<number>((resolve) => {
    for (const worker of pool.workers) worker.on('completed', () => void (++completed === total && resolve(performance.now() - started)));
  });
  await pool.close();
  for (const name of queueNames) await queues.get(name).obliterate({ force: true });
  await queues.close();
  await closeRedis(connection);
  await closeRedis(producer);
  return (total / ms) * 1_000;
}

/** Paired runs of the same drain on one Redis and on `other`; the median of the pairs' ratios. */
async function compare(single: Config, other: Config, db: DataSource, queueNames: readonly QueueName[], jobs: number): Promise<{ single: number; other: number; ratio: number }> {
  await drain(single, db, queueNames, 2_000);
  await drain(other, db, queueNames, 2_000);
  const singles: number[] = [];
  const others: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    await pairedRun(
      run,
      async () => void singles.push(await drain(single, db, queueNames, jobs)),
      async () => void others.push(await drain(other, db, queueNames, jobs)),
    );
  }
  return { single: median(singles), other: median(others), ratio: median(others.map((o, i) => o / (singles[i] as number))) };
}

/** The config with Redis pointed elsewhere. */
function withRedis(config: Config, redis: Partial<RedisConfig> & { url: string }): Config {
  return { ...config, redis: { sentinel: null, cluster: null, tls: null, queuePrefix: `jobhub-bench-${process.pid}`, ...redis } };
}

const hostPorts = (list: string): { host: string; port: number }[] =>
  list.split(',').map((pair) => ({ host: pair.split(':')[0] ?? '', port: Number(pair.split(':')[1]) }));

/**
 * The primary of a Sentinel set killed while jobs are added and run: the time from its death to
 * the first job added after it completing, and the jobs acknowledged to the producer that never
 * completed (an asynchronous replica's loss; for jobs MySQL owes, the sweepers add them again).
 */
async function failover(config: Config, db: DataSource): Promise<BenchRow> {
  const set = await startSentinelSet();
  try {
    const sentinelConfig = withRedis(config, { url: 'redis://127.0.0.1:1', sentinel: { sentinels: hostPorts(set.sentinels), name: SENTINEL_MASTER, sentinelPassword: null } });
    const log = createLogger({ level: 'warn', destination: pino.destination('/dev/null') });
    const producer = createRedis(sentinelConfig.redis, 'producer', 'jobhub-bench');
    const connection = createRedis(sentinelConfig.redis, 'worker', 'jobhub-bench');
    await waitForRedis(producer);
    const keys = hubRedisKeys(sentinelConfig.redis);
    const queues = new QueueSet(producer, keys);
    const def = noops.get('messages') as JobDefinition;
    const completedAt = new Map<string, number>();
    const pool = startWorkers(
      { config: sentinelConfig, db, redis: producer, log, registry: buildRegistry([...noops.values()]), enqueue: createEnqueue(queues), integrations: NO_INTEGRATIONS, queues, now: () => new Date() },
      { queues: ['messages'], connection, keys, concurrency: CONCURRENCY },
    );
    for (const worker of pool.workers) worker.on('completed', (job) => void completedAt.set(job.id ?? '', Date.now()));
    const acknowledged = new Map<string, number>();
    let killedAt = 0;
    const adding = (async () => {
      for (let n = 0; n < 6_000; n++) {
        if (n === 2_000) {
          await set.primary.stop();
          killedAt = Date.now();
        }
        const id = `failover-${n}`;
        await queues
          .get('messages')
          .add(def.name, { n }, { jobId: id })
          .then(() => void acknowledged.set(id, Date.now()))
          .catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    await adding;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && [...acknowledged.keys()].some((id) => !completedAt.has(id))) await new Promise((resolve) => setTimeout(resolve, 200));
    const afterKill = [...acknowledged].filter(([, at]) => at > killedAt).map(([id]) => completedAt.get(id) ?? Infinity);
    const firstAfter = Math.min(...afterKill) - killedAt;
    const lost = [...acknowledged.keys()].filter((id) => !completedAt.has(id)).length;
    await pool.close();
    await queues.close();
    await closeRedis(connection);
    await closeRedis(producer);
    return {
      scenario: 'Sentinel failover: primary SIGKILLed while 6,000 jobs are added and run',
      unit: 'jobs',
      baseline: { label: 'acknowledged', value: acknowledged.size },
      ours: { label: 'completed', value: acknowledged.size - lost },
      notes: `first job added after the death completed ${(firstAfter / 1000).toFixed(1)} s after it; ${lost} acknowledged jobs lost with the old primary's last writes (jobs MySQL owes are added again by the sweepers; these no-op jobs have no such record)`,
    };
  } finally {
    await set.close();
  }
}

/** The hub's pipeline on Sentinel and on a three-primary Cluster, against one Redis in the same run, and a failover. */
export async function benchRedisTopologies(config: Config): Promise<BenchRow[]> {
  const db = await createDataSource(config);
  const closers: (() => Promise<void>)[] = [() => db.destroy()];
  try {
    const single = await startPrivateRedis();
    closers.push(() => single.close());
    const set = await startSentinelSet();
    closers.push(() => set.close());
    const cluster = await startPrivateCluster({ masters: 3 });
    closers.push(() => cluster.close());
    const singleConfig = withRedis(config, { url: single.url });
    const sentinelConfig = withRedis(config, { url: 'redis://127.0.0.1:1', sentinel: { sentinels: hostPorts(set.sentinels), name: SENTINEL_MASTER, sentinelPassword: null } });
    const clusterConfig = withRedis(config, { url: 'redis://127.0.0.1:1', cluster: { nodes: hostPorts(cluster.nodes) } });
    const sentinel = await compare(singleConfig, sentinelConfig, db, ['messages'], JOBS);
    const spread = await compare(singleConfig, clusterConfig, db, SPREAD, JOBS / 2);
    return [
      {
        scenario: `pipeline through the sentinel-found primary: ${JOBS.toLocaleString('en-US')} no-op jobs, concurrency ${CONCURRENCY}, median of ${RUNS} paired runs`,
        unit: 'jobs/s',
        baseline: { label: 'one Redis', value: sentinel.single },
        ours: { label: 'Sentinel', value: sentinel.other },
        ratio: sentinel.ratio,
        notes: 'the Sentinel primary ships every write to its replica, and here both run on the same two cores as the hub: on their own machines the replica costs the primary little',
      },
      {
        scenario: `two queues at once on a three-primary Cluster, each on its own shard: ${SPREAD.length} × ${(JOBS / 2).toLocaleString('en-US')} jobs`,
        unit: 'jobs/s',
        baseline: { label: 'one Redis', value: spread.single },
        ours: { label: 'Cluster', value: spread.other },
        ratio: spread.ratio,
        notes: 'two cores run the hub and every Redis here: a cluster spreads Redis work over machines, which this machine cannot show',
      },
      await failover(config, db),
    ];
  } finally {
    for (const close of closers.reverse()) await close();
  }
}
