import { isIPv4, isIPv6 } from 'node:net';
import type { RedisConnection } from '../../lib/redis';
import type { Config } from '../../lib/config';
import type { RedisKeys } from '../../lib/redis-keys';
import { withRedisTimeout } from '../http-errors';
import { hashedId } from '../../lib/hashed-id';

export type LoginLimits = Config['boardLogin'];

type Kind = 'user' | 'address';

/**
 * Failed dashboard logins counted per user name and per client address, in Redis so every web
 * replica shares the count. A window starts with its first failure and is not extended by later
 * ones, so a locked name or address is free again at most `windowMs` after it began failing.
 */
export class LoginThrottle {
  constructor(
    private readonly redis: RedisConnection,
    /** The counters are one group: on a cluster, one slot, so one transaction reads and counts them. */
    private readonly keys: RedisKeys,
    private readonly limits: LoginLimits,
  ) {}

  /**
   * Counts one failed attempt. `retryAfterS` is set when this attempt went over a limit: it is
   * answered 429 rather than 401, as every further attempt is until the window ends.
   */
  async recordFailure(username: string | null, address: string): Promise<{ failures: Partial<Record<Kind, number>>; retryAfterS: number | null }> {
    const counters = this.counters(username, address);
    const tx = this.redis.multi();
    for (const { key } of counters) tx.set(key, '0', 'PX', this.limits.windowMs, 'NX').incr(key).pttl(key);
    const replies = await withRedisTimeout(execReplies(tx.exec()));
    const states = counters.map((c, i) => ({ ...c, count: Number(replies[i * 3 + 1]), ttlMs: Number(replies[i * 3 + 2]) }));
    return {
      failures: Object.fromEntries(states.map((s) => [s.kind, s.count])),
      retryAfterS: retryAfter(states.filter((s) => s.count > s.limit)),
    };
  }

  /** Seconds a login with the right credentials must still wait, or null: a correct guess is refused while locked too. */
  async lockedFor(username: string | null, address: string): Promise<number | null> {
    const counters = this.counters(username, address);
    const tx = this.redis.multi();
    for (const { key } of counters) tx.get(key).pttl(key);
    const replies = await withRedisTimeout(execReplies(tx.exec()));
    const states = counters.map((c, i) => ({ ...c, count: Number(replies[i * 2] ?? 0), ttlMs: Number(replies[i * 2 + 1]) }));
    return retryAfter(states.filter((s) => s.count >= s.limit));
  }

  private counters(username: string | null, address: string): { kind: Kind; key: string; limit: number }[] {
    const base = this.keys.group('board-login');
    const counters: { kind: Kind; key: string; limit: number }[] = [
      { kind: 'address', key: `${base}:address:${addressBucket(address)}`, limit: this.limits.maxFailuresPerAddress },
    ];
    // Hashed: a name is whatever a client sends, of any length and content.
    if (username) counters.push({ kind: 'user', key: hashedId(`${base}:user:`, username), limit: this.limits.maxFailuresPerUser });
    return counters;
  }
}

/** The seconds until the last of these windows ends; null when there are none. */
function retryAfter(over: { ttlMs: number }[]): number | null {
  if (over.length === 0) return null;
  // A key without a TTL (-1) cannot come from this code; 1 s keeps the answer sane if one ever does.
  return Math.max(1, ...over.map((s) => Math.ceil(s.ttlMs / 1_000)));
}

async function execReplies(pending: Promise<[Error | null, unknown][] | null>): Promise<unknown[]> {
  const results = (await pending) ?? [];
  const failed = results.find(([err]) => err);
  if (failed?.[0]) throw failed[0];
  return results.map(([, value]) => value);
}

/**
 * The unit an address is counted in. An IPv6 client usually holds a whole /64, so it is counted as
 * one; an IPv4-mapped IPv6 address is its IPv4 address.
 */
export function addressBucket(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped?.[1]) return mapped[1];
  if (isIPv4(address) || !isIPv6(address)) return address;
  const [head = '', tail] = address.split('::');
  const groups = (part: string | undefined): string[] => (part ? part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])) : []);
  const left = groups(head);
  const right = groups(tail);
  const full = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${full.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}
