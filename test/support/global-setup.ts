import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { applyBusinessSchema } from '../../entities/apply-business-schema';
import { migrate } from '../../entities/migrate';
import { createLogger } from '../../lib/logger';
import { TEST_MYSQL_SERVER, TEST_REDIS_URL, testConfig } from './env';

/**
 * Fails the whole run, loudly, when MariaDB or Redis is missing; then gives each jest worker a
 * fresh database with the business schema and the hub's migrations applied.
 */
export default async function globalSetup(globalConfig: { maxWorkers: number }): Promise<void> {
  await assertRedis();
  const server = new URL(TEST_MYSQL_SERVER);
  const conn = await mysql
    .createConnection({ host: server.hostname, port: Number(server.port || 3306), user: decodeURIComponent(server.username || 'root'), password: decodeURIComponent(server.password), connectTimeout: 5_000 })
    .catch((err: Error) => {
      throw new Error(`MariaDB/MySQL is not reachable at ${server.host} (${err.message}). Start it (see .ci/run) — the tests never skip.`);
    });
  const [dbs] = await conn.query<mysql.RowDataPacket[]>("SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name LIKE 'jobhub\\_test\\_%'");
  for (const row of dbs) await conn.query(`DROP DATABASE \`${String(row.name)}\``);
  await conn.end();

  const log = createLogger({ level: 'silent' });
  for (let worker = 1; worker <= Math.max(1, globalConfig.maxWorkers); worker++) {
    process.env.JEST_WORKER_ID = String(worker);
    const config = testConfig();
    await applyBusinessSchema(config, log);
    await migrate(config, log);
  }
  delete process.env.JEST_WORKER_ID;
}

async function assertRedis(): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis is not reachable at ${TEST_REDIS_URL} (${(err as Error).message}). Start it (see .ci/run) — the tests never skip.`);
  } finally {
    redis.disconnect();
  }
}
