import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { RedisConnection } from '../../lib/redis';
import { RetryableError } from '../../lib/errors';

/**
 * The access token of one app account, kept in Redis and shared by every worker (WeChat's "中控" rule:
 * one place fetches, everybody reads). One worker at a time refreshes, under a Redis lock; the others
 * wait for the new token. A token that failed is removed only if it is still the cached one, so a late
 * failure never throws away the token another worker has just fetched.
 */

export interface FetchedToken {
  accessToken: string;
  expiresInSeconds: number;
}

export interface TokenStoreOptions {
  redis: RedisConnection;
  keyPrefix: string;
  appid: string;
  /** Asks WeChat for a token (`/cgi-bin/stable_token`). */
  fetch: () => Promise<FetchedToken>;
  /** Refresh this long before expiry (stable tokens overlap 5 minutes, so any token returned has at least that). Default 5 min. */
  refreshAheadMs?: number;
  /** The lock's lifetime: longer than a fetch can take (the fetch has its own timeout). */
  lockTtlMs: number;
  /** How long a worker waits for another's refresh before giving up with a RetryableError. */
  waitMs: number;
  now?: () => number;
}

/** Deletes KEYS[1] only while its `token` field is ARGV[1]. */
const DELETE_IF_TOKEN = `if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
/** Releases a lock only by its owner. */
const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
const POLL_MS = 20;
const DEFAULT_REFRESH_AHEAD_MS = 5 * 60_000;

interface Cached {
  token: string;
  expiresAt: number;
  /** When workers start refreshing: the margin before expiry, at most half the token's life. */
  refreshAt: number;
}

export class AccessTokenStore {
  private readonly key: string;
  private readonly lockKey: string;
  private readonly refreshAheadMs: number;
  private readonly now: () => number;

  constructor(private readonly options: TokenStoreOptions) {
    this.key = `${options.keyPrefix}:wechat-mp:token:${options.appid}`;
    this.lockKey = `${options.keyPrefix}:wechat-mp:token-lock:${options.appid}`;
    this.refreshAheadMs = options.refreshAheadMs ?? DEFAULT_REFRESH_AHEAD_MS;
    this.now = options.now ?? Date.now;
  }

  /** A token valid for more than the refresh margin; fetched by this worker or by another one. */
  async get(): Promise<string> {
    const deadline = this.now() + this.options.waitMs;
    for (;;) {
      const cached = await this.read();
      if (cached && this.fresh(cached)) return cached.token;
      const owner = randomBytes(12).toString('hex');
      const locked = await this.options.redis.set(this.lockKey, owner, 'PX', this.options.lockTtlMs, 'NX');
      if (locked === 'OK') {
        try {
          return await this.refreshLocked();
        } finally {
          await this.options.redis.eval(RELEASE_LOCK, 1, this.lockKey, owner);
        }
      }
      // Someone else is refreshing: a token inside its margin still works meanwhile.
      if (cached && cached.expiresAt > this.now()) return cached.token;
      if (this.now() >= deadline) throw new RetryableError(`WeChat access token of ${this.options.appid}: no refresh finished within ${this.options.waitMs} ms`);
      await delay(POLL_MS);
    }
  }

  /** Forgets `failedToken` if it is still the cached one; true when it was removed. */
  async invalidate(failedToken: string): Promise<boolean> {
    return (await this.options.redis.eval(DELETE_IF_TOKEN, 1, this.key, failedToken)) === 1;
  }

  /** The cached token and its expiry (epoch ms), for diagnostics and tests. */
  async peek(): Promise<Cached | null> {
    return this.read();
  }

  private fresh(cached: Cached): boolean {
    return cached.refreshAt > this.now();
  }

  private async refreshLocked(): Promise<string> {
    // Checked again under the lock: the previous holder may have stored a token after our first read.
    const cached = await this.read();
    if (cached && this.fresh(cached)) return cached.token;
    const fetched = await this.options.fetch();
    const ttlMs = fetched.expiresInSeconds * 1000;
    const expiresAt = this.now() + ttlMs;
    const refreshAt = expiresAt - Math.min(this.refreshAheadMs, ttlMs / 2);
    await this.options.redis
      .multi()
      .hset(this.key, { token: fetched.accessToken, expires_at: String(expiresAt), refresh_at: String(refreshAt) })
      .pexpire(this.key, ttlMs)
      .exec();
    return fetched.accessToken;
  }

  private async read(): Promise<Cached | null> {
    const fields = await this.options.redis.hgetall(this.key);
    const expiresAt = Number(fields.expires_at);
    const refreshAt = Number(fields.refresh_at);
    if (!fields.token || !Number.isFinite(expiresAt) || !Number.isFinite(refreshAt)) return null;
    return { token: fields.token, expiresAt, refreshAt };
  }
}
