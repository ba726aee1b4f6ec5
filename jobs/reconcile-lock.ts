import { DeferredError } from '../lib/errors';
import { namedLockName, withNamedLock } from '../lib/named-lock';
import type { JobContext } from './context';

/** How long a run that finds the same day being reconciled elsewhere waits before it tries again. */
const BUSY_RETRY_MS = 60_000;

/** The named lock of one channel's, merchant's and day's reconciliation (WeChat Pay, App Store). */
export function reconcileLockName(ctx: Pick<JobContext, 'db'>, channel: string, merchant: string, date: string): string {
  return namedLockName(ctx.db, 'reconcile', `${channel}/${merchant}/${date}`);
}

/**
 * One run per channel, merchant and day at a time (the clock's and an API request may meet): both
 * would share the run row and its staging rows. The other waits a minute in the queue.
 */
export function reconcileExclusively<T>(ctx: Pick<JobContext, 'db' | 'log' | 'now'>, channel: string, merchant: string, date: string, work: () => Promise<T>): Promise<T> {
  const name = reconcileLockName(ctx, channel, merchant, date);
  return withNamedLock(ctx, name, () => new DeferredError(ctx.now().getTime() + BUSY_RETRY_MS, `${name} is already running`), work);
}
