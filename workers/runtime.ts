import type { RedisConnection } from '../lib/redis';
import type { DataSource } from 'typeorm';
import { applyBusinessSchema } from '../entities/schema/apply-business-schema';
import { createDataSource } from '../entities/data-source';
import { migrate } from '../entities/schema/migrate';
import type { Config } from '../lib/config';
import type { Enqueue } from '../jobs/context';
import type { Logger } from '../lib/logger';
import { checkRedisDurability, closeRedis, createRedis, redisAddress, waitForRedis } from '../lib/redis';
import { connectionChecks, type ReadinessCheck } from '../lib/health';
import { isDatabaseUnavailableError } from '../lib/errors';
import { untilAvailable, type StartupState } from './startup';
import { openIntegrations, type Integrations } from '../integrations';
import { createEnqueue } from './enqueue';
import { QueueSet } from './queues';
import { startSchemaGuard, type SchemaGuard } from './schema-guard';
import { hubRedisKeys } from '../lib/redis-keys';

/** A part of a process (web, worker, clock): one process runs one role, or all three. */
export interface Role {
  /** Stops taking work and releases what the role holds; the runtime is closed by the caller. */
  close(): Promise<void>;
}

/** What every process holds: the data source, a producer connection and the queues it enqueues to. */
export interface Runtime {
  readonly db: DataSource;
  readonly redis: RedisConnection;
  readonly queues: QueueSet;
  readonly enqueue: Enqueue;
  /** The outside systems; emulators started here in emulator mode. */
  readonly integrations: Integrations;
  /** The schema check, run at start and every minute: `/readyz` reports it, the runner obeys it. */
  readonly schema: SchemaGuard;
  /** What this process's `/readyz` checks: RedisConnection, MySQL and the schema; roles add their own. */
  readonly readiness: ReadinessCheck[];
  close(): Promise<void>;
}

/**
 * Prepares the schema as configured, then connects. MySQL or Redis not there yet is waited for,
 * with backoff, naming what is awaited in the log and in `startup` (the startup `/readyz`).
 */
export async function openRuntime(config: Config, log: Logger, startup: StartupState = { current: null }): Promise<Runtime> {
  const mysql = `MySQL at ${config.mysql.host}:${config.mysql.port}`;
  const untilMysql = <T>(attempt: () => Promise<T>): Promise<T> => untilAvailable(startup, mysql, log, isDatabaseUnavailableError, attempt);
  if (config.businessSchemaOnStart) await untilMysql(() => applyBusinessSchema(config, log));
  if (config.migrateOnStart) await untilMysql(() => migrate(config, log));
  const db = await untilMysql(() => createDataSource(config));
  const redis = createRedis(config.redis, 'producer');
  // ioredis reconnects by itself: each wait is one more look at whether it got there.
  await untilAvailable(startup, `Redis at ${redisAddress(config.redis)}`, log, () => true, () => waitForRedis(redis));
  await checkRedisDurability(redis, log, config.env === 'production');
  log.info({ redis: redisAddress(config.redis), mysql: `${config.mysql.host}:${config.mysql.port}` }, 'connected');
  const queues = new QueueSet(redis, hubRedisKeys(config.redis));
  const schema = await startSchemaGuard(db, log);
  const integrations = await openIntegrations(config, db, redis, log);
  return {
    db,
    redis,
    queues,
    enqueue: createEnqueue(queues),
    integrations,
    schema,
    readiness: [...connectionChecks(db, redis), schema.readiness],
    async close() {
      schema.stop();
      await integrations.close();
      await queues.close();
      await closeRedis(redis);
      if (db.isInitialized) await db.destroy();
    },
  };
}
