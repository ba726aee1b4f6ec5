import type { RedisConnection } from './redis';

/**
 * Sends per wall-clock second, shared by every worker through Redis: the way a vendor counts an
 * account's rate. A queue limiter's windows start with their first job, so a vendor's second could
 * take the tail of one and the head of the next; counting in the vendor's own seconds cannot.
 * No permit is given in the last `guardMs` of a second, so a call in flight lands in the second it
 * was counted in: the vendor counts by its own receive time, and a permit taken 30 ms before the
 * second's end reached it in the next second on a loaded worker (busiest second 516 of 500 in the
 * `sms` bench). The guard is the latency from permit to vendor it absorbs.
 */
export const PERMIT_GUARD_MS = 100;

export async function takeSecondPermit(redis: RedisConnection, key: string, perSecond: number, now: Date, guardMs = PERMIT_GUARD_MS): Promise<{ waitMs: number } | null> {
  const at = now.getTime();
  const intoSecond = at % 1_000;
  const untilNext = 1_000 - intoSecond;
  if (untilNext <= guardMs) return { waitMs: untilNext };
  const counter = `${key}:${Math.floor(at / 1_000)}`;
  const [[incrErr, taken] = [], [expireErr] = []] = (await redis.multi().incr(counter).pexpire(counter, 2_000).exec()) ?? [];
  if (incrErr) throw incrErr;
  if (expireErr) throw expireErr;
  return Number(taken) > perSecond ? { waitMs: untilNext } : null;
}
