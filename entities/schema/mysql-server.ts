import mysql from 'mysql2/promise';
import type { MysqlConfig } from '../../lib/config';
import { mysqlSslOptions } from '../../lib/config-mysql-tls';

export type MysqlDriverType = 'mariadb' | 'mysql';

export interface ServerInfo {
  type: MysqlDriverType;
  version: string;
}

/** One short-lived connection without a default database: for what must run before the pool exists. */
export async function withServerConnection<T>(mysqlConfig: MysqlConfig, work: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const conn = await mysql.createConnection({
    host: mysqlConfig.host,
    port: mysqlConfig.port,
    user: mysqlConfig.user,
    password: mysqlConfig.password,
    timezone: mysqlConfig.timezone,
    ssl: mysqlSslOptions(mysqlConfig.ssl),
    connectTimeout: 10_000,
  });
  try {
    await conn.query('SET time_zone = ?', [mysqlConfig.timezone]);
    return await work(conn);
  } finally {
    await conn.end();
  }
}

/** MariaDB and MySQL differ in locking clauses, so the driver type follows the server, not configuration. */
export async function detectServer(mysqlConfig: MysqlConfig): Promise<ServerInfo> {
  return withServerConnection(mysqlConfig, async (conn) => {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT VERSION() AS version');
    const version = String(rows[0]?.version ?? '');
    return { type: /mariadb/i.test(version) ? 'mariadb' : 'mysql', version };
  });
}

/** Creates every configured system database that does not exist yet. */
export async function ensureDatabases(mysqlConfig: MysqlConfig): Promise<void> {
  const names = new Set([mysqlConfig.database, ...Object.values(mysqlConfig.databases)]);
  await withServerConnection(mysqlConfig, async (conn) => {
    for (const name of names) {
      await conn.query(`CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    }
  });
}
