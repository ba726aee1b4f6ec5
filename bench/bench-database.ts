import type { DataSource } from 'typeorm';
import { applyBusinessSchema } from '../entities/schema/apply-business-schema';
import { createDataSource } from '../entities/data-source';
import { withServerConnection } from '../entities/schema/mysql-server';
import type { Config } from '../lib/config';
import { createLogger } from '../lib/logger';

/** The same server, another database for every system: a bench never touches the development tables. */
export function withDatabase(config: Config, database: string): Config {
  const databases = { marketing: database, app: database, customerService: database, dms: database, hub: database };
  return { ...config, mysql: { ...config.mysql, database, databases, url: config.mysql.url.replace(/\/[A-Za-z0-9_]+$/, `/${database}`) } };
}

/**
 * Two databases a bench compares in: `ours`, with the business schema, loaded by `fill`, and
 * `baseline` holding identical copies of `tables`. Both are dropped first, so every run starts alike.
 */
export async function openComparedDatabases(
  config: Config,
  names: { ours: string; baseline: string },
  tables: readonly string[],
  fill: (db: DataSource) => Promise<void>,
): Promise<DataSource> {
  await withServerConnection(config.mysql, async (conn) => {
    for (const name of [names.ours, names.baseline]) await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
  });
  await applyBusinessSchema(withDatabase(config, names.ours), createLogger({ level: 'warn' }));
  const db = await createDataSource(withDatabase(config, names.ours));
  await fill(db);
  await db.query(`CREATE DATABASE \`${names.baseline}\``);
  for (const table of tables) {
    await db.query(`CREATE TABLE \`${names.baseline}\`.${table} LIKE \`${names.ours}\`.${table}`);
    await db.query(`INSERT INTO \`${names.baseline}\`.${table} SELECT * FROM \`${names.ours}\`.${table}`);
  }
  return db;
}
