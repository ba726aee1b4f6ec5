import { DataSource } from 'typeorm';
import type { Config } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { baseDataSourceOptions } from '../data-source';
import { MIGRATIONS } from '../migrations';
import { detectServer, ensureDatabases } from './mysql-server';

const LOCK_NAME = 'jobhub_migrate';
const LOCK_TIMEOUT_S = 60;

/**
 * Creates missing databases, then runs the hub's own migrations in the hub database under a
 * server-wide lock, so replicas starting together never migrate at once.
 */
export async function migrate(config: Pick<Config, 'mysql'>, log: Logger): Promise<string[]> {
  await ensureDatabases(config.mysql);
  const server = await detectServer(config.mysql);
  const dataSource = new DataSource({
    ...baseDataSourceOptions(config.mysql, server.type, config.mysql.databases.hub),
    poolSize: 2,
    migrations: MIGRATIONS,
    migrationsTableName: 'hub_migrations',
    migrationsTransactionMode: 'each',
  });
  await dataSource.initialize();
  const lockRunner = dataSource.createQueryRunner();
  try {
    const [row] = (await lockRunner.query('SELECT GET_LOCK(?, ?) AS got', [LOCK_NAME, LOCK_TIMEOUT_S])) as { got: number | string | null }[];
    if (Number(row?.got) !== 1) throw new Error(`could not take the migration lock ${LOCK_NAME} within ${LOCK_TIMEOUT_S} s`);
    try {
      const ran = await dataSource.runMigrations();
      const names = ran.map((m) => m.name);
      log.info({ database: config.mysql.databases.hub, ran: names }, names.length ? 'migrations applied' : 'migrations up to date');
      return names;
    } finally {
      await lockRunner.query('SELECT RELEASE_LOCK(?)', [LOCK_NAME]);
    }
  } finally {
    await lockRunner.release();
    await dataSource.destroy();
  }
}
