import type { RedisConnection } from './redis';

/**
 * A circuit breaker whose state lives in Redis, so every worker process sees the same circuit: once
 * an outside service has failed `failureThreshold` times in a row within `windowMs`, callers skip it
 * for `openMs`. Then one caller at a time is let through (half-open): its success closes the
 * circuit, its failure opens it again for another `openMs`.
 *
 * One hash per circuit: `failures` and `windowStart` count the current run of failures; `openUntil`
 * (epoch ms, 0 when closed) and `probeUntil` (the half-open probe's lease) describe the open state.
 */

export interface CircuitBreakerOptions {
  redis: RedisConnection;
  /** The circuit's Redis key; callers put it under the hub's queue prefix. */
  key: string;
  failureThreshold?: number;
  windowMs?: number;
  openMs?: number;
  /** How long a half-open probe keeps others out should it never report back; `openMs` by default. */
  probeMs?: number;
  now?: () => Date;
}

export interface CircuitBreaker {
  /** True while callers must skip the service. In half-open state the first caller gets false (it is the probe). */
  isOpen(): Promise<boolean>;
  /** As `isOpen`, telling apart a circuit with no failure on record (`clean`), whose success needs no write. */
  state(): Promise<'open' | 'closed' | 'clean'>;
  recordSuccess(): Promise<void>;
  recordFailure(): Promise<void>;
}

/** ARGV: now, probeMs, ttlMs. Returns 1 when open, 0 when the caller may go ahead, 2 when no failure is on record. */
const IS_OPEN = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 2 end
local openUntil = tonumber(redis.call('HGET', KEYS[1], 'openUntil') or '0') or 0
local now = tonumber(ARGV[1])
if openUntil == 0 then return 0 end
if now < openUntil then return 1 end
local probeUntil = tonumber(redis.call('HGET', KEYS[1], 'probeUntil') or '0') or 0
if now < probeUntil then return 1 end
redis.call('HSET', KEYS[1], 'probeUntil', now + tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 0
`;

/** ARGV: now, threshold, windowMs, openMs, ttlMs. Returns 1 when the circuit is open afterwards. */
const RECORD_FAILURE = `
local now = tonumber(ARGV[1])
local threshold = tonumber(ARGV[2])
local windowMs = tonumber(ARGV[3])
local openMs = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local openUntil = tonumber(redis.call('HGET', KEYS[1], 'openUntil') or '0') or 0
if openUntil > now then return 1 end
if openUntil > 0 then
  redis.call('HSET', KEYS[1], 'openUntil', now + openMs, 'probeUntil', 0, 'failures', threshold, 'windowStart', now)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0') or 0
local windowStart = tonumber(redis.call('HGET', KEYS[1], 'windowStart') or '0') or 0
if failures == 0 or now - windowStart > windowMs then
  failures = 0
  windowStart = now
end
failures = failures + 1
redis.call('HSET', KEYS[1], 'failures', failures, 'windowStart', windowStart)
if failures >= threshold then
  redis.call('HSET', KEYS[1], 'openUntil', now + openMs, 'probeUntil', 0)
end
redis.call('PEXPIRE', KEYS[1], ttl)
if failures >= threshold then return 1 end
return 0
`;

export function createCircuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  const { redis, key } = options;
  const failureThreshold = options.failureThreshold ?? 5;
  const windowMs = options.windowMs ?? 30_000;
  const openMs = options.openMs ?? 30_000;
  const probeMs = options.probeMs ?? openMs;
  const now = options.now ?? ((): Date => new Date());
  if (failureThreshold < 1 || windowMs <= 0 || openMs <= 0 || probeMs <= 0) throw new RangeError('circuit breaker: threshold, window and open time must be positive');
  // Long enough to outlive a window, an open period and a probe; an idle circuit then disappears (closed).
  const ttlMs = 2 * (windowMs + openMs + probeMs);

  return {
    async isOpen() {
      return (await this.state()) === 'open';
    },
    async state() {
      const answer = await redis.eval(IS_OPEN, 1, key, now().getTime(), probeMs, ttlMs);
      return answer === 1 ? 'open' : answer === 2 ? 'clean' : 'closed';
    },
    async recordSuccess() {
      await redis.del(key);
    },
    async recordFailure() {
      await redis.eval(RECORD_FAILURE, 1, key, now().getTime(), failureThreshold, windowMs, openMs, ttlMs);
    },
  };
}

/**
 * True while callers other than a half-open probe skip the service, read without writing: `state()`
 * would take the probe's lease. For `/metrics`, which must never change what callers see.
 */
export async function circuitIsOpen(redis: RedisConnection, key: string, now: Date): Promise<boolean> {
  const [openUntil, probeUntil] = await redis.hmget(key, 'openUntil', 'probeUntil');
  const open = Number(openUntil ?? 0);
  const at = now.getTime();
  return open !== 0 && (at < open || at < Number(probeUntil ?? 0));
}
