import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import pino from 'pino';
import { createDataSource } from '../entities/data-source';
import { HubAudit } from '../entities/hub/hub-audit.entity';
import { registry } from '../jobs';
import type { Config } from '../lib/config';
import { parseApiTokens } from '../lib/config-api-tokens';
import { createLogger } from '../lib/logger';
import { closeRedis, createRedis, waitForRedis } from '../lib/redis';
import { hubRedisKeys } from '../lib/redis-keys';
import { buildApp } from '../server/app';
import { QueueSet } from '../workers/queues';
import { perRequestUs, storeCpu, type StoreCpu } from './server-cpu';
import { median, pairedRun, type BenchRow } from './table';

const CONNECTIONS = 50;
const DURATION_S = 8;
const RUNS = 5;
const TOKEN = 'bench-enqueue-0123456789abcdef';

interface Figures {
  rps: number;
  p99: number;
  /** CPU each request cost Redis and MariaDB (µs), when they run on this machine. */
  redisUs: number | null;
  mysqlUs: number | null;
}

async function hammer(url: string, headers: Record<string, string>, stores: StoreCpu): Promise<Figures> {
  let n = 0;
  const before = stores.read();
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION_S,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    // A new key each request: every one is a job of its own, as distinct events are.
    setupClient: (client) => client.setBody(JSON.stringify({ key: `bench-${(n += 1)}` })),
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} answers not 2xx, ${result.errors} errors`);
  const after = stores.read();
  const requests = result.requests.total;
  return { rps: result.requests.average, p99: result.latency.p99, redisUs: perRequestUs(before.redis, after.redis, requests), mysqlUs: perRequestUs(before.mysql, after.mysql, requests) };
}

/** The median of a store's per-request CPU over the runs, or `?` when the store is not on this machine. */
function storeFigure(runs: Figures[], store: 'redisUs' | 'mysqlUs'): string {
  const values = runs.flatMap((r) => (r[store] === null ? [] : [r[store]]));
  return values.length === 0 ? '?' : String(median(values));
}

/**
 * The enqueue API (`POST /api/v1/jobs/hub-canary` through the whole app: token and scope,
 * validation, idempotency, the audit row, the log line) against a bare fastify route calling
 * `queue.add` with the same Redis, at 50 connections; nothing consumes the jobs.
 */
export async function benchEnqueueApi(base: Config): Promise<BenchRow> {
  const prefix = `jobhub-bench-api-${process.pid}`;
  // The run's configuration, with a queue prefix and a client of the bench's own.
  const config: Config = { ...base, apiTokens: parseApiTokens(`bench:${TOKEN}:business|ops`) ?? [], redis: { ...base.redis, queuePrefix: prefix } };
  const log = createLogger({ level: 'warn', destination: pino.destination('/dev/null') });
  const db = await createDataSource(config);
  const redis = createRedis(config.redis, 'producer', 'jobhub-bench');
  await waitForRedis(redis);
  const queues = new QueueSet(redis, hubRedisKeys(config.redis));
  const app = await buildApp({ config, log, db, redis, queues, registry });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const bareQueues = new QueueSet(redis, `${prefix}-bare`);
  const bare = Fastify({ logger: false });
  bare.post('/bare', async (request, reply) => {
    const job = await bareQueues.get('ops').add('hub-canary', request.body);
    return reply.code(202).send({ id: job.id });
  });
  await bare.listen({ port: 0, host: '127.0.0.1' });
  const stores = await storeCpu(redis, db);
  const ours = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/v1/jobs/hub-canary`;
  const baseline = `http://127.0.0.1:${(bare.server.address() as AddressInfo).port}/bare`;
  try {
    const bares: Figures[] = [];
    const hubs: Figures[] = [];
    for (let run = 0; run < RUNS; run++) {
      await pairedRun(
        run,
        async () => void bares.push(await hammer(baseline, {}, stores)),
        async () => void hubs.push(await hammer(ours, { authorization: `Bearer ${TOKEN}` }, stores)),
      );
    }
    const p99 = median(hubs.map((h) => h.p99));
    return {
      scenario: `enqueue API at ${CONNECTIONS} connections (autocannon, ${DURATION_S} s, median of ${RUNS} paired runs)`,
      unit: 'requests/s',
      baseline: { label: 'bare route + queue.add', value: median(bares.map((b) => b.rps)) },
      ours: { label: 'POST /api/v1/jobs', value: median(hubs.map((h) => h.rps)) },
      ratio: median(hubs.map((h, i) => h.rps / (bares[i] as Figures).rps)),
      targetRatio: 0.8,
      notes: `p99 ${p99} ms (target < 20 ms), bare route p99 ${median(bares.map((b) => b.p99))} ms; per request, Redis ${storeFigure(hubs, 'redisUs')} µs CPU (bare ${storeFigure(bares, 'redisUs')}), MariaDB ${storeFigure(hubs, 'mysqlUs')} µs (bare ${storeFigure(bares, 'mysqlUs')})`,
    };
  } finally {
    await bare.close();
    await app.close();
    for (const q of ['ops'] as const) {
      await queues.get(q).obliterate({ force: true });
      await bareQueues.get(q).obliterate({ force: true });
    }
    await bareQueues.close();
    await queues.close();
    // The audit rows the hub wrote for the bench's requests.
    await db.getRepository(HubAudit).delete({ actor: 'bench' });
    await closeRedis(redis);
    await db.destroy();
  }
}
