import { readFileSync } from 'node:fs';
import type { DataSource } from 'typeorm';
import type { RedisConnection } from '../lib/redis';

/** Linux's clock ticks a second in /proc/<pid>/stat (USER_HZ: 100 on every common build). */
const TICKS_PER_S = 100;

/** CPU seconds a local process has used (user + system), from /proc; null when it is not readable here. */
function cpuSeconds(pid: number): number | null {
  try {
    // Fields after the command (which may hold spaces) start at the last ')'; utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').pop()?.trim().split(' ') ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / TICKS_PER_S : null;
  } catch {
    return null;
  }
}

export interface StoreCpu {
  /** CPU seconds of Redis and MariaDB so far (null: the server is not on this machine). */
  read(): { redis: number | null; mysql: number | null };
}

/**
 * The Redis and MariaDB servers the run uses, found by asking them their process ids: what a
 * request costs them shows only there, outside the bench's process. Both must run on this machine.
 */
export async function storeCpu(redis: RedisConnection, db: DataSource): Promise<StoreCpu> {
  const info = await redis.info('server');
  const redisPid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
  const [row] = (await db.query('SELECT @@pid_file AS pidFile')) as { pidFile: string }[];
  let mysqlPid = Number.NaN;
  try {
    mysqlPid = Number(readFileSync(row?.pidFile ?? '', 'utf8').trim());
  } catch {
    // not this machine's server
  }
  return {
    read: () => ({ redis: Number.isFinite(redisPid) ? cpuSeconds(redisPid) : null, mysql: Number.isFinite(mysqlPid) ? cpuSeconds(mysqlPid) : null }),
  };
}

/** Microseconds per request of a store between two readings, or null. */
export function perRequestUs(before: number | null, after: number | null, requests: number): number | null {
  return before === null || after === null || requests === 0 ? null : Math.round(((after - before) * 1e6) / requests);
}
