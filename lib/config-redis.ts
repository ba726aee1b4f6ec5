import { z } from 'zod';
import { optionalPemFile, optionalText } from './config-fields';

/**
 * Where Redis is: one server (REDIS_URL), a primary found through Sentinel (REDIS_SENTINELS and
 * REDIS_SENTINEL_MASTER) and followed through failovers, or a Cluster (REDIS_CLUSTER_NODES). lib/config.ts merges these fields into the
 * one schema; lib/redis.ts opens every connection from the result.
 */

const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$/;

export const redisEnv = {
  REDIS_URL: optionalText
    .refine((v) => v === undefined || /^rediss?:\/\/.+/.test(v), { message: 'expected redis://[user:password@]host:port[/db]' })
    .describe('BullMQ\'s Redis as one server (development default redis://127.0.0.1:6379); with Sentinel only its credentials and database number are read, with Cluster only its credentials (and rediss:// for TLS)'),
  REDIS_PASSWORD: optionalText.describe('The Redis password, in place of the one in REDIS_URL (for a password kept in a secret file: REDIS_PASSWORD_FILE)'),
  REDIS_SENTINELS: optionalText
    .refine((v) => v === undefined || v.split(',').every((s) => HOST_PORT.test(s.trim())), { message: 'expected host:port pairs, comma-separated' })
    .describe('Sentinels to ask for the primary (host:port,host:port,…): every connection follows a failover. Needs REDIS_SENTINEL_MASTER'),
  REDIS_SENTINEL_MASTER: optionalText.describe('The name the sentinels monitor the primary under (sentinel monitor <name> …)'),
  REDIS_SENTINEL_PASSWORD: optionalText.describe('The sentinels\' own password, when they require one (the data nodes take REDIS_PASSWORD or REDIS_URL\'s)'),
  REDIS_CLUSTER_NODES: optionalText
    .refine((v) => v === undefined || v.split(',').every((s) => HOST_PORT.test(s.trim())), { message: 'expected host:port pairs, comma-separated' })
    .describe('A Redis Cluster\'s nodes to start from (host:port,…; the rest are discovered): each queue then carries its own hash tag, so the queues spread over the shards. The nodes take REDIS_URL\'s (or REDIS_PASSWORD\'s) credentials'),
  REDIS_TLS_CA: optionalPemFile.describe('A PEM file of the CA(s) that signed the Redis servers\' certificates (managed Redis: the provider\'s CA). Turns TLS on for every connection, Sentinel and Cluster included; so does a rediss:// REDIS_URL, which trusts the system CAs'),
  REDIS_TLS_CERT: optionalPemFile.describe('A PEM client certificate, for servers that require one (tls-auth-clients yes); needs REDIS_TLS_KEY'),
  REDIS_TLS_KEY: optionalPemFile.describe('The PEM private key of REDIS_TLS_CERT'),
};

type RedisEnv = z.output<z.ZodObject<typeof redisEnv>>;

export interface SentinelConfig {
  readonly sentinels: readonly HostPort[];
  /** The monitored primary's name. */
  readonly name: string;
  readonly sentinelPassword: string | null;
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface ClusterConfig {
  /** Where to start; the cluster names the rest. */
  readonly nodes: readonly HostPort[];
}

/** TLS to every Redis node (and sentinel): the server's certificate is always verified, host name included. */
export interface RedisTls {
  /** PEM; null: the system's CAs. */
  readonly ca: string | null;
  readonly cert: string | null;
  readonly key: string | null;
}

export interface RedisConfig {
  /** The server, or (with Sentinel or Cluster) the credentials (and, with Sentinel, database number) of the nodes. */
  readonly url: string;
  /** Null: no Sentinel. */
  readonly sentinel: SentinelConfig | null;
  /** Null: no Cluster. At most one of `sentinel` and `cluster` is set. */
  readonly cluster: ClusterConfig | null;
  /** Null: plain TCP. */
  readonly tls: RedisTls | null;
  readonly queuePrefix: string;
}

/** Sentinels and their primary's name come together, a client certificate and its key too; a cluster is not also behind Sentinel. */
export function checkRedisEnv(e: RedisEnv, issue: (path: string, message: string) => void): void {
  if (e.REDIS_SENTINELS && !e.REDIS_SENTINEL_MASTER) issue('REDIS_SENTINEL_MASTER', 'required with REDIS_SENTINELS: the name the sentinels monitor the primary under');
  if (e.REDIS_SENTINEL_MASTER && !e.REDIS_SENTINELS) issue('REDIS_SENTINELS', 'required with REDIS_SENTINEL_MASTER');
  if (e.REDIS_TLS_CERT && !e.REDIS_TLS_KEY) issue('REDIS_TLS_KEY', 'required with REDIS_TLS_CERT');
  if (e.REDIS_TLS_KEY && !e.REDIS_TLS_CERT) issue('REDIS_TLS_CERT', 'required with REDIS_TLS_KEY');
  if (e.REDIS_CLUSTER_NODES && e.REDIS_SENTINELS) issue('REDIS_CLUSTER_NODES', 'set either REDIS_CLUSTER_NODES or REDIS_SENTINELS, not both: a cluster fails over by itself');
}

/** Production needs to be told where Redis is, one way or the other. */
export function redisIsConfigured(e: RedisEnv): boolean {
  return Boolean(e.REDIS_URL || e.REDIS_SENTINELS || e.REDIS_CLUSTER_NODES);
}

export function redisConfig(e: RedisEnv & { HUB_QUEUE_PREFIX: string }, developmentUrl: string): RedisConfig {
  const sentinel: SentinelConfig | null =
    e.REDIS_SENTINELS && e.REDIS_SENTINEL_MASTER
      ? {
          sentinels: hostPorts(e.REDIS_SENTINELS),
          name: e.REDIS_SENTINEL_MASTER,
          sentinelPassword: e.REDIS_SENTINEL_PASSWORD ?? null,
        }
      : null;
  const cluster: ClusterConfig | null = e.REDIS_CLUSTER_NODES ? { nodes: hostPorts(e.REDIS_CLUSTER_NODES) } : null;
  const url = withPassword(e.REDIS_URL ?? developmentUrl, e.REDIS_PASSWORD);
  const wantsTls = url.startsWith('rediss://') || Boolean(e.REDIS_TLS_CA || e.REDIS_TLS_CERT);
  const tls: RedisTls | null = wantsTls ? { ca: e.REDIS_TLS_CA ?? null, cert: e.REDIS_TLS_CERT ?? null, key: e.REDIS_TLS_KEY ?? null } : null;
  return { url, sentinel, cluster, tls, queuePrefix: e.HUB_QUEUE_PREFIX };
}

function hostPorts(list: string): HostPort[] {
  return list.split(',').map((pair) => {
    const [host = '', port = ''] = pair.trim().split(':');
    return { host, port: Number(port) };
  });
}

/** A Redis URL carrying `password` (REDIS_PASSWORD) in place of its own, when given. */
function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}
