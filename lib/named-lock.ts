import { createHash } from 'node:crypto';
import type { SslOptions } from 'mysql2';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import type { DataSource, DataSourceOptions } from 'typeorm';
import type { Logger } from './logger';

/**
 * A MySQL named lock's name for `scope` within this hub's database. Named locks are server-wide and
 * at most 64 characters: the database is part of the scope, and the scope is hashed (SHA-1: the
 * names running processes already take, so an old and a new process still exclude each other).
 */
export function namedLockName(db: DataSource, purpose: string, scope: string): string {
  return `jobhub-${purpose}-${createHash('sha1').update(`${String(db.options.database)}/${scope}`).digest('hex')}`;
}

/**
 * `work` while holding the named lock `name`, taken without waiting: `busy()` is thrown when another
 * connection holds it. The lock lives on a connection of its own, outside the pool, for as long as
 * `work` runs: the server releases it should this process die, and `work` has the whole pool (a
 * pooled lock connection, waiting for the work's own connections, could hang a small pool for good).
 */
export async function withNamedLock<T>(deps: { db: DataSource; log: Logger }, name: string, busy: () => Error, work: () => Promise<T>): Promise<T> {
  const options = deps.db.options as Extract<DataSourceOptions, { type: 'mysql' | 'mariadb' }>;
  // The pool's own TLS option (built by mysqlSslOptions): this connection goes to the same server.
  const ssl = options.ssl as SslOptions | undefined;
  const lock = await createConnection({ host: options.host, port: options.port, user: options.username, password: options.password, ssl, connectTimeout: 10_000 });
  try {
    const [rows] = await lock.query<RowDataPacket[]>('SELECT GET_LOCK(?, 0) AS got', [name]);
    if (Number(rows[0]?.got) !== 1) throw busy();
    try {
      return await work();
    } finally {
      await lock.query('SELECT RELEASE_LOCK(?)', [name]).catch((err: unknown) => deps.log.warn({ err, name }, 'could not release the named lock'));
    }
  } finally {
    await lock.end().catch(() => lock.destroy());
  }
}
