import 'reflect-metadata';
import mysql2 from 'mysql2';
import { DataSource, getMetadataArgsStorage } from 'typeorm';
import type { Config, MysqlConfig } from '../lib/config';
import { mysqlSslOptions } from '../lib/config-mysql-tls';
import { ENTITIES, ENTITY_SYSTEMS } from './index';
import { detectServer, type MysqlDriverType } from './schema/mysql-server';

/**
 * What every hub session runs first. The time zone, so DEFAULT CURRENT_TIMESTAMP and DATETIME
 * comparisons agree with the systems' Beijing time. And strict mode, whatever the server's default:
 * without STRICT_TRANS_TABLES a value too long or malformed for its column is silently cut or zeroed
 * with a warning, where the hub wants an error (text it means to keep short it cuts itself, first).
 * The server's other modes are kept.
 */
export const SESSION_SETUP_SQL =
  "SET time_zone = ?, sql_mode = IF(FIND_IN_SET('STRICT_TRANS_TABLES', @@SESSION.sql_mode) > 0, @@SESSION.sql_mode, CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'STRICT_TRANS_TABLES'))";

/** A process's pool when nothing sizes it (web, clock, tools); workers size theirs from their queues. */
export const DEFAULT_POOL_SIZE = 10;

type ConnectionCallback = (err: NodeJS.ErrnoException | null, connection?: mysql2.PoolConnection) => void;

/**
 * mysql2 with two additions. Every pooled connection runs SESSION_SETUP_SQL before its first query.
 * And a query waits at most `acquireTimeoutMs` for a free connection (mysql2 would wait for ever):
 * it then fails with POOL_ACQUIRE_TIMEOUT, and the connection it would have had, once free, goes
 * straight back to the pool.
 */
function mysql2ForHub(mysqlConfig: MysqlConfig): Omit<typeof mysql2, 'createPool'> & { createPool(options: mysql2.PoolOptions): mysql2.Pool } {
  return {
    ...mysql2,
    createPool(options: mysql2.PoolOptions) {
      const pool = mysql2.createPool(options);
      pool.on('connection', (conn) => {
        conn.query(SESSION_SETUP_SQL, [mysqlConfig.timezone]);
      });
      const getConnection = pool.getConnection.bind(pool) as (cb: ConnectionCallback) => void;
      (pool as { getConnection: (cb: ConnectionCallback) => void }).getConnection = (cb) => {
        let answered = false;
        const timer = setTimeout(() => {
          answered = true;
          const err: NodeJS.ErrnoException = new Error(
            `no MySQL connection free within ${mysqlConfig.acquireTimeoutMs} ms (pool of ${options.connectionLimit ?? '?'}: MYSQL_POOL_SIZE)`,
          );
          err.code = 'POOL_ACQUIRE_TIMEOUT';
          cb(err);
        }, mysqlConfig.acquireTimeoutMs);
        getConnection((err, connection) => {
          clearTimeout(timer);
          if (!answered) return cb(err, connection);
          connection?.release();
        });
      };
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
    ssl: mysqlSslOptions(mysqlConfig.ssl),
    // A DATE is a calendar day, not an instant: as a Date it would shift by the process's offset.
    dateStrings: ['DATE'] as string[],
    charset: 'utf8mb4_unicode_ci',
    poolSize: mysqlConfig.poolSize ?? DEFAULT_POOL_SIZE,
    supportBigNumbers: true,
    bigNumberStrings: true,
    synchronize: false,
    logging: false,
    driver: mysql2ForHub(mysqlConfig),
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
