import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger';

/**
 * Two kinds of connection (BullMQ's production guide):
 * - producers (queues, the API) fail fast while Redis is away, so an enqueue answers 503 instead of hanging;
 * - workers retry every command forever and reconnect by themselves.
 */
export type RedisRole = 'producer' | 'worker';

export function createRedis(url: string, role: RedisRole, connectionName = `jobhub-${role}`): Redis {
  const options: RedisOptions =
    role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectionName }
      : { maxRetriesPerRequest: null, enableReadyCheck: true, connectionName };
  const redis = new Redis(url, { ...options, retryStrategy: (times) => Math.min(200 * 2 ** times, 5_000) });
  // Errors surface through the commands that fail; an unhandled 'error' event would crash the process.
  redis.on('error', () => undefined);
  return redis;
}

/** Resolves once the connection is ready, or rejects after `timeoutMs` naming the URL's host. */
export async function waitForRedis(redis: Redis, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis at ${redis.options.host}:${redis.options.port} not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/** Closes gracefully when connected, at once otherwise; resolves when the connection has ended. */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'end') return;
  const ended = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2_000);
    redis.once('end', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
  else redis.disconnect();
  await ended;
}

/**
 * BullMQ loses jobs under eviction and after a crash without AOF (its production guide), so a
 * production process says so at start. Managed Redis may refuse CONFIG: that is logged, not fatal.
 */
export async function checkRedisDurability(redis: Redis, log: Logger, production: boolean): Promise<string[]> {
  const warnings: string[] = [];
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    const [, aof] = (await redis.config('GET', 'appendonly')) as [string, string];
    if (policy !== 'noeviction') warnings.push(`maxmemory-policy is ${policy}: set noeviction, or Redis may evict queued jobs`);
    if (aof !== 'yes') warnings.push('appendonly is off: set appendonly yes (appendfsync everysec), or a Redis crash loses queued jobs');
  } catch (err) {
    warnings.push(`could not read Redis settings (${(err as Error).message}): check noeviction and AOF by hand`);
  }
  for (const warning of warnings) {
    if (production) log.warn({ redis: redis.options.host }, warning);
    else log.debug({ redis: redis.options.host }, warning);
  }
  return warnings;
}
