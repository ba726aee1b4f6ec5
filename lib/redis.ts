import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import type { ClusterConfig, RedisConfig, RedisTls, SentinelConfig } from './config-redis';
import type { Logger } from './logger';

/**
 * Two kinds of connection (BullMQ's production guide):
 * - producers (queues, the API) fail fast while Redis is away, so an enqueue answers 503 instead of hanging;
 * - workers retry every command forever and reconnect by themselves.
 */
export type RedisRole = 'producer' | 'worker';

/** A connection to the hub's Redis: one server (or a Sentinel-found primary), or a Cluster. */
export type RedisConnection = Redis | Cluster;

/**
 * Every connection the hub opens: queues, workers (BullMQ duplicates these for its blocking reads,
 * with the same options), the clock, permits, breakers, locks. `target` is a URL, or the hub's Redis
 * configuration: one server; Sentinel, where the primary is asked of the sentinels at each
 * (re)connection; or a Cluster, whose
 * client follows the slots to whichever node serves them, through the cluster's own failovers.
 */
export function createRedis(target: string, role: RedisRole, connectionName?: string): Redis;
export function createRedis(target: string | RedisConfig, role: RedisRole, connectionName?: string): RedisConnection;
export function createRedis(target: string | RedisConfig, role: RedisRole, connectionName = `jobhub-${role}`): RedisConnection {
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
  const config = typeof target === 'string' ? null : target;
  const url = config?.url ?? (target as string);
  const tls = config?.tls ? tlsOptions(config.tls) : undefined;
  if (tls) common.tls = tls;
  const redis = config?.cluster
    ? new Cluster([...config.cluster.nodes], clusterOptions(url, config.cluster, common))
    : config?.sentinel
      ? new Redis({ ...common, ...sentinelOptions(url, config.sentinel, tls) })
      : new Redis(url, common);
  // Errors surface through the commands that fail; an unhandled 'error' event would crash the process.
  redis.on('error', () => undefined);
  return redis;
}

/**
 * The Cluster form: each node's connection takes the hub's options and the URL's credentials; the
 * producer's fail-fast settings apply to the cluster as a whole (no offline queue, one retry).
 */
function clusterOptions(url: string, _cluster: ClusterConfig, common: RedisOptions): ClusterOptions {
  const parsed = new URL(url);
  return {
    redisOptions: {
      ...common,
      ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
      ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    },
    enableOfflineQueue: common.enableOfflineQueue ?? true,
    enableReadyCheck: true,
    maxRedirections: 16,
    // Nodes are reached by the names given and announced, never swapped for an IP first: TLS checks the certificate against that name.
    dnsLookup: (address, callback) => callback(null, address),
    clusterRetryStrategy: (times) => Math.min(200 * 2 ** times, 5_000),
    // A slot's primary killed: ask the cluster again for the slots' owners rather than wait for a MOVED.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
  };
}

/** The Sentinel form of the options: the nodes' credentials and database from the URL, the sentinels' own password apart. */
function sentinelOptions(url: string, sentinel: SentinelConfig, tls: ConnectionOptions | undefined): RedisOptions {
  const parsed = new URL(url);
  return {
    sentinels: sentinel.sentinels.map((s) => ({ host: s.host, port: s.port })),
    name: sentinel.name,
    ...(sentinel.sentinelPassword ? { sentinelPassword: sentinel.sentinelPassword } : {}),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    db: Number(parsed.pathname.slice(1) || 0),
    // No failoverDetector: in ioredis 5.9 a +switch-master arriving while a reconnection awaits the
    // sentinel's answer ends the connection for good. A killed primary closes its sockets and a demoted
    // one answers READONLY (reconnectOnError above), which move the connection as fast.
    sentinelRetryStrategy: (times) => Math.min(200 * 2 ** times, 5_000),
    // The sentinels and the nodes they name speak TLS alike.
    ...(tls ? { sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
  };
}

/** Node's TLS options from the configured PEMs: the CA given, or the system's; the host name always checked. */
function tlsOptions(tls: RedisTls): ConnectionOptions {
  return {
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
  };
}

/** Where a Redis configuration points, for logs: never its password. */
export function redisAddress(target: RedisConfig): string {
  if (target.cluster) return `cluster via ${target.cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (target.sentinel) return `sentinel ${target.sentinel.name} via ${target.sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
  const parsed = new URL(target.url);
  return `${parsed.hostname}:${parsed.port || 6379}`;
}

/** host:port of a connection (a cluster's first node), for errors and logs. */
function connectionAddress(redis: RedisConnection): string {
  if (redis instanceof Cluster) {
    const [first] = redis.nodes();
    return `cluster via ${first ? `${first.options.host}:${first.options.port}` : 'no node'}`;
  }
  return `${redis.options.host}:${redis.options.port}`;
}

/** Resolves once the connection is ready, or rejects after `timeoutMs` naming the URL's host. */
export async function waitForRedis(redis: RedisConnection, timeoutMs = 10_000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis at ${connectionAddress(redis)} not ready within ${timeoutMs} ms`));
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
export async function closeRedis(redis: RedisConnection): Promise<void> {
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
export async function checkRedisDurability(redis: RedisConnection, log: Logger, production: boolean): Promise<string[]> {
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
    if (production) log.warn({ redis: connectionAddress(redis) }, warning);
    else log.debug({ redis: connectionAddress(redis) }, warning);
  }
  return warnings;
}
