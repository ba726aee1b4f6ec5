import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { applyBusinessSchema } from '../entities/apply-business-schema';
import { createDataSource } from '../entities/data-source';
import { migrate } from '../entities/migrate';
import type { Config } from '../lib/config';
import type { Enqueue } from '../lib/context';
import type { Logger } from '../lib/logger';
import { checkRedisDurability, closeRedis, createRedis, waitForRedis } from '../lib/redis';
import { createEnqueue } from './enqueue';
import { QueueSet } from './queues';

/** A part of a process (web, worker, clock): one process runs one role, or all three. */
export interface Role {
  /** Stops taking work and releases what the role holds; the runtime is closed by the caller. */
  close(): Promise<void>;
}

/** What every process holds: the data source, a producer connection and the queues it enqueues to. */
export interface Runtime {
  readonly db: DataSource;
  readonly redis: Redis;
  readonly queues: QueueSet;
  readonly enqueue: Enqueue;
  close(): Promise<void>;
}

/** Prepares the schema as configured, then connects; fails loudly if MySQL or Redis is not there. */
export async function openRuntime(config: Config, log: Logger): Promise<Runtime> {
  if (config.businessSchemaOnStart) await applyBusinessSchema(config, log);
  if (config.migrateOnStart) await migrate(config, log);
  const db = await createDataSource(config);
  const redis = createRedis(config.redis.url, 'producer');
  try {
    await waitForRedis(redis);
  } catch (err) {
    redis.disconnect();
    await db.destroy();
    throw err;
  }
  await checkRedisDurability(redis, log, config.env === 'production');
  const queues = new QueueSet(redis, config.redis.queuePrefix);
  return {
    db,
    redis,
    queues,
    enqueue: createEnqueue(queues),
    async close() {
      await queues.close();
      await closeRedis(redis);
      if (db.isInitialized) await db.destroy();
    },
  };
}
