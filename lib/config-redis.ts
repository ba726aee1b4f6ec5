import { z } from 'zod';
import { optionalText } from './config-fields';

/**
 * Where Redis is: one server (REDIS_URL), or a primary found through Sentinel (REDIS_SENTINELS and
 * REDIS_SENTINEL_MASTER), followed through failovers. lib/config.ts merges these fields into the
 * one schema; lib/redis.ts opens every connection from the result.
 */

const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$/;

export const redisEnv = {
  REDIS_URL: optionalText
    .refine((v) => v === undefined || /^rediss?:\/\/.+/.test(v), { message: 'expected redis://[user:password@]host:port[/db]' })
    .describe('BullMQ\'s Redis as one server (development default redis://127.0.0.1:6379); with Sentinel, only its database number and credentials are read'),
  REDIS_PASSWORD: optionalText.describe('The Redis password, in place of the one in REDIS_URL (for a password kept in a secret file: REDIS_PASSWORD_FILE)'),
  REDIS_SENTINELS: optionalText
    .refine((v) => v === undefined || v.split(',').every((s) => HOST_PORT.test(s.trim())), { message: 'expected host:port pairs, comma-separated' })
    .describe('Sentinels to ask for the primary (host:port,host:port,…): every connection follows a failover. Needs REDIS_SENTINEL_MASTER'),
  REDIS_SENTINEL_MASTER: optionalText.describe('The name the sentinels monitor the primary under (sentinel monitor <name> …)'),
  REDIS_SENTINEL_PASSWORD: optionalText.describe('The sentinels\' own password, when they require one (the data nodes take REDIS_PASSWORD or REDIS_URL\'s)'),
};

type RedisEnv = z.output<z.ZodObject<typeof redisEnv>>;

export interface SentinelConfig {
  readonly sentinels: readonly { readonly host: string; readonly port: number }[];
  /** The monitored primary's name. */
  readonly name: string;
  readonly sentinelPassword: string | null;
}

export interface RedisConfig {
  /** The server, or (with Sentinel) the database number and credentials of the nodes. */
  readonly url: string;
  /** Null: one server at `url`. */
  readonly sentinel: SentinelConfig | null;
  readonly queuePrefix: string;
}

/** Sentinels and their primary's name come together. */
export function checkRedisEnv(e: RedisEnv, issue: (path: string, message: string) => void): void {
  if (e.REDIS_SENTINELS && !e.REDIS_SENTINEL_MASTER) issue('REDIS_SENTINEL_MASTER', 'required with REDIS_SENTINELS: the name the sentinels monitor the primary under');
  if (e.REDIS_SENTINEL_MASTER && !e.REDIS_SENTINELS) issue('REDIS_SENTINELS', 'required with REDIS_SENTINEL_MASTER');
}

/** Production needs to be told where Redis is, one way or the other. */
export function redisIsConfigured(e: RedisEnv): boolean {
  return Boolean(e.REDIS_URL || e.REDIS_SENTINELS);
}

export function redisConfig(e: RedisEnv & { HUB_QUEUE_PREFIX: string }, developmentUrl: string): RedisConfig {
  const sentinel: SentinelConfig | null =
    e.REDIS_SENTINELS && e.REDIS_SENTINEL_MASTER
      ? {
          sentinels: e.REDIS_SENTINELS.split(',').map((pair) => {
            const [host = '', port = ''] = pair.trim().split(':');
            return { host, port: Number(port) };
          }),
          name: e.REDIS_SENTINEL_MASTER,
          sentinelPassword: e.REDIS_SENTINEL_PASSWORD ?? null,
        }
      : null;
  return { url: withPassword(e.REDIS_URL ?? developmentUrl, e.REDIS_PASSWORD), sentinel, queuePrefix: e.HUB_QUEUE_PREFIX };
}

/** A Redis URL carrying `password` (REDIS_PASSWORD) in place of its own, when given. */
function withPassword(url: string, password: string | undefined): string {
  if (password === undefined) return url;
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}
