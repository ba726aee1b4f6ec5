import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
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
 * connection holds it. The lock is held on a connection of its own for as long as `work` runs, so
 * the server releases it should this process die.
 */
export async function withNamedLock<T>(deps: { db: DataSource; log: Logger }, name: string, busy: () => Error, work: () => Promise<T>): Promise<T> {
  const lock = deps.db.createQueryRunner();
  await lock.connect();
  try {
    const [row] = (await lock.query('SELECT GET_LOCK(?, 0) AS got', [name])) as { got: number | string | null }[];
    if (Number(row?.got) !== 1) throw busy();
    try {
      return await work();
    } finally {
      await lock.query('SELECT RELEASE_LOCK(?)', [name]).catch((err: unknown) => deps.log.warn({ err, name }, 'could not release the named lock'));
    }
  } finally {
    await lock.release();
  }
}
