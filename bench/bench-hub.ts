import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';
import type { Integrations } from '../integrations';
import { registry } from '../jobs';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import { closeRedis, createRedis, waitForRedis } from '../lib/redis';
import { buildApp } from '../server/app';
import { createEnqueue } from '../workers/enqueue';
import type { QueueName } from '../lib/queue-names';
import { QueueSet } from '../workers/queues';
import { startWorkers } from '../workers/start-workers';

/** `count` calls of `work`, `concurrency` at a time; per second, and how long they took. */
export async function rateOf(count: number, concurrency: number, work: (i: number) => Promise<void>): Promise<{ perS: number; ms: number }> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) await work(i);
    }),
  );
  const ms = performance.now() - started;
  return { perS: (count / ms) * 1_000, ms };
}

export interface BenchHub {
  readonly port: number;
  stop(): Promise<void>;
}

/** The hub in this process, as `npm start` runs it: the web app over HTTP, the worker pool on `queues`. */
export async function startBenchHub(name: string, config: Config, db: DataSource, integrations: Integrations, log: Logger, queueNames: QueueName[]): Promise<BenchHub> {
  const redis = createRedis(config.redis, 'producer', 'jobhub-bench');
  await waitForRedis(redis);
  const prefix = `jobhub-bench-${name}-${process.pid}`;
  const queues = new QueueSet(redis, prefix);
  const app = await buildApp({ config, log, db, redis, queues, registry, integrations });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const connection = createRedis(config.redis, 'worker', 'jobhub-bench');
  const pool = startWorkers(
    { config, db, redis, log, registry, enqueue: createEnqueue(queues), integrations, queues, now: () => new Date() },
    { queues: queueNames, connection, keys: prefix },
  );
  return {
    port: (app.server.address() as AddressInfo).port,
    async stop() {
      await pool.close();
      await app.close();
      await queues.close();
      for (const key of await redis.keys(`${prefix}:*`)) await redis.del(key);
      await closeRedis(connection);
      await closeRedis(redis);
    },
  };
}
