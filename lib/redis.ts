import { Redis, type RedisOptions } from 'ioredis';
import type { RedisConfig, SentinelConfig } from './config-redis';
import type { Logger } from './logger';

/**
 * Two kinds of connection (BullMQ's production guide):
 * - producers (queues, the API) fail fast while Redis is away, so an enqueue answers 503 instead of hanging;
 * - workers retry every command forever and reconnect by themselves.
 */
export type RedisRole = 'producer' | 'worker';

/**
 * Every connection the hub opens: queues, workers (BullMQ duplicates these for its blocking reads,
 * with the same options), the clock, permits, breakers, locks. `target` is a URL, or the hub's Redis
 * configuration: one server, or Sentinel, where the primary is asked of the sentinels at each
 * (re)connection and a failover they announce moves the connection at once.
 */
export function createRedis(target: string | RedisConfig, role: RedisRole, connectionName = `jobhub-${role}`): Redis {
  const options: RedisOptions =
    role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectionName }
      : { maxRetriesPerRequest: null, enableReadyCheck: true, connectionName };
  const common: RedisOptions = {
    ...options,
    retryStrategy: (times) => Math.min(200 * 2 ** times, 5_000),
    // A primary demoted in a failover answers writes READONLY: reconnect (to the new primary) and send the command again.
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
  };
  const sentinel = typeof target === 'string' ? null : target.sentinel;
  const url = typeof target === 'string' ? target : target.url;
  const redis = sentinel ? new Redis({ ...common, ...sentinelOptions(url, sentinel) }) : new Redis(url, common);
  // Errors surface through the commands that fail; an unhandled 'error' event would crash the process.
  redis.on('error', () => undefined);
  return redis;
}

/** The Sentinel form of the options: the nodes' credentials and database from the URL, the sentinels' own password apart. */
function sentinelOptions(url: string, sentinel: SentinelConfig): RedisOptions {
  const parsed = new URL(url);
  return {
    sentinels: sentinel.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: sentinel.name,
    ...(sentinel.sentinelPassword ? { sentinelPassword: sentinel.sentinelPassword } : {}),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    db: Number(parsed.pathname.slice(1) || 0),
    // Sentinel announces +switch-master: move without waiting for the old primary's socket to fail.
    failoverDetector: true,
    sentinelRetryStrategy: (times) => Math.min(200 * 2 ** times, 5_000),
  };
}

/** Where a Redis configuration points, for logs: never its password. */
export function redisAddress(target: RedisConfig): string {
  if (target.sentinel) return `sentinel ${target.sentinel.name} via ${target.sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
  const parsed = new URL(target.url);
  return `${parsed.hostname}:${parsed.port || 6379}`;
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
