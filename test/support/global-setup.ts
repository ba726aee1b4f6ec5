import type mysql from 'mysql2/promise';
import { applyBusinessSchema } from '../../entities/schema/apply-business-schema';
import { migrate } from '../../entities/schema/migrate';
import { withServerConnection } from '../../entities/schema/mysql-server';
import { createLogger } from '../../lib/logger';
import { RUN_DATABASES_REGEXP, TEST_REDIS_URL, testConfig } from './env';
import { assertMysqlUp, assertRedisUp } from './services';

/**
 * Fails the whole run, loudly, when MariaDB or Redis is missing; then gives each jest worker a
 * fresh database with the business schema and the hub's migrations applied.
 */
export default async function globalSetup(globalConfig: { maxWorkers: number }): Promise<void> {
  await assertRedisUp(TEST_REDIS_URL);
  const server = testConfig().mysql;
  await assertMysqlUp(server);
  await withServerConnection(server, async (conn) => {
    const [dbs] = await conn.query<mysql.RowDataPacket[]>('SELECT schema_name AS name FROM information_schema.schemata WHERE schema_name REGEXP ?', [RUN_DATABASES_REGEXP]);
    for (const row of dbs) await conn.query(`DROP DATABASE \`${String(row.name)}\``);
  });

  const log = createLogger({ level: 'silent' });
  for (let worker = 1; worker <= Math.max(1, globalConfig.maxWorkers); worker++) {
    process.env.JEST_WORKER_ID = String(worker);
    const config = testConfig();
    await applyBusinessSchema(config, log);
    await migrate(config, log);
  }
  delete process.env.JEST_WORKER_ID;
}
