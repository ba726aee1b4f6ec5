import 'reflect-metadata';
import mysql2 from 'mysql2';
import { DataSource, getMetadataArgsStorage } from 'typeorm';
import type { Config, MysqlConfig } from '../lib/config';
import { ENTITIES, ENTITY_SYSTEMS } from './index';
import { detectServer, type MysqlDriverType } from './mysql-server';

/**
 * mysql2 with one addition: every pooled connection sets the session time zone before its first
 * query, so DEFAULT CURRENT_TIMESTAMP and DATETIME comparisons agree with the systems' Beijing time.
 */
function mysql2WithSessionTimeZone(timezone: string): Omit<typeof mysql2, 'createPool'> & { createPool(options: mysql2.PoolOptions): mysql2.Pool } {
  return {
    ...mysql2,
    createPool(options: mysql2.PoolOptions) {
      const pool = mysql2.createPool(options);
      pool.on('connection', (conn) => {
        conn.query('SET time_zone = ?', [timezone]);
      });
      return pool;
    },
  };
}

export function baseDataSourceOptions(mysqlConfig: MysqlConfig, type: MysqlDriverType, database: string) {
  return {
    type,
    host: mysqlConfig.host,
    port: mysqlConfig.port,
    username: mysqlConfig.user,
    password: mysqlConfig.password,
    database,
    timezone: mysqlConfig.timezone,
    // A DATE is a calendar day, not an instant: as a Date it would shift by the process's offset.
    dateStrings: ['DATE'] as string[],
    charset: 'utf8mb4_unicode_ci',
    poolSize: mysqlConfig.poolSize,
    supportBigNumbers: true,
    bigNumberStrings: true,
    synchronize: false,
    logging: false,
    driver: mysql2WithSessionTimeZone(mysqlConfig.timezone),
  } as const;
}

let initializing: Promise<unknown> = Promise.resolve();

/**
 * The one data source. Each system's tables live in the database config names for that system;
 * an entity is qualified with its database only where that differs from MYSQL_URL's, so one
 * transaction can span systems on one server.
 */
export async function createDataSource(config: Pick<Config, 'mysql'>): Promise<DataSource> {
  const server = await detectServer(config.mysql);
  // Table metadata is global to TypeORM and read while a data source initializes, so data sources
  // with different database maps (tests) initialize one at a time.
  const run = initializing.then(async () => {
    for (const table of getMetadataArgsStorage().tables) {
      const system = ENTITY_SYSTEMS.get(table.target);
      if (!system) continue;
      const database = config.mysql.databases[system];
      table.database = database === config.mysql.database ? undefined : database;
    }
    const dataSource = new DataSource({
      ...baseDataSourceOptions(config.mysql, server.type, config.mysql.database),
      entities: ENTITIES,
    });
    return dataSource.initialize();
  });
  initializing = run.catch(() => undefined);
  return run;
}
