import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { registry as defaultRegistry } from '../../jobs';
import type { JobRegistry } from '../../jobs/define-job';
import type { Config } from '../../lib/config';
import type { Enqueue } from '../../lib/context';
import type { Logger } from '../../lib/logger';
import { closeRedis } from '../../lib/redis';
import { createEnqueue } from '../../workers/enqueue';
import type { QueueName } from '../../workers/queue-names';
import { QueueSet } from '../../workers/queues';
import { startWorkers, type WorkerPool } from '../../workers/start-workers';
import { openTestDataSource } from './db';
import { testConfig } from './env';
import { captureLogger } from './logs';
import { deletePrefix, testPrefix, testRedis } from './queues';
import { track } from './resources';

export interface TestHub {
  config: Config;
  db: DataSource;
  redis: Redis;
  queues: QueueSet;
  enqueue: Enqueue;
  prefix: string;
  log: Logger;
  logText(): string;
  startWorkers(queues: QueueName[]): WorkerPool;
  close(): Promise<void>;
}

export interface TestHubOptions {
  registry?: JobRegistry;
  now?: () => Date;
}

/** The real pieces of a worker process (data source, producer, queues, workers) on a per-file prefix. */
export async function openTestHub(file: string, options: TestHubOptions = {}): Promise<TestHub> {
  const prefix = testPrefix(file);
  const config = testConfig({ HUB_QUEUE_PREFIX: prefix });
  const db = await openTestDataSource(config);
  const redis = await testRedis('producer');
  const queues = new QueueSet(redis, prefix);
  const { log, text } = captureLogger('debug');
  const enqueue = createEnqueue(queues);
  const pools: WorkerPool[] = [];
  return {
    config,
    db,
    redis,
    queues,
    enqueue,
    prefix,
    log,
    logText: text,
    startWorkers(names) {
      const connection = track({ kind: 'redis', value: redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true }) });
      const pool = startWorkers(
        { config, db, redis, log, registry: options.registry ?? defaultRegistry, enqueue, queues, now: options.now ?? (() => new Date()) },
        { queues: names, connection, prefix },
      );
      for (const w of pool.workers) track({ kind: 'worker', value: w });
      const closable: WorkerPool = {
        workers: pool.workers,
        async close() {
          await pool.close();
          await closeRedis(connection);
        },
      };
      pools.push(closable);
      return closable;
    },
    async close() {
        await Promise.all(pools.map((p) => p.close()));
      await queues.close();
      await deletePrefix(redis, prefix);
      await closeRedis(redis);
      await db.destroy();
    },
  };
}
