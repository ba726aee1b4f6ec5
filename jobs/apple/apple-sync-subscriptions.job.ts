import { z } from 'zod';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import type { AppleEnvironment, AppleIntegration } from '../../integrations/apple/apple.client';
import type { JobContext } from '../context';
import { appleMerchant, recordAppleItem } from './reconcile-items';
import { candidateWindow, type SyncCandidate } from './sync-candidates';
import { applyStatuses, isSubscriptionError } from './sync-statuses';
import { appleHandleNotification } from './apple-handle-notification.job';
import { defineJob, done } from '../define-job';

export interface SyncSubscriptionsResult {
  /** Subscriptions asked about (one status call each). */
  refreshed: number;
  /** apple_order rows the answers changed. */
  changed: number;
  /** Subscriptions Apple would not answer for (a permanent error, recorded as an item). */
  failed: { originalTransactionId: string; code: string }[];
  /** Rows of an environment this hub does not accept. */
  skipped: number;
}

/**
 * Subscriptions expiring within a day, in grace or in billing retry, refreshed through Get All
 * Subscription Statuses and applied like notifications (ordered by signedDate, so an answer never
 * undoes a newer notification): what keeps VIP right when a notification was lost. Walks apple_order
 * in primary-key windows; one subscription Apple does not know is recorded and skipped.
 */
export const appleSyncSubscriptions = defineJob({
  name: 'apple-sync-subscriptions',
  queue: 'payments',
  description: 'Refresh App Store subscriptions expiring within a day, in grace or in billing retry (Get All Subscription Statuses)',
  payload: z.strictObject({ batchSize: z.number().int().min(1).max(10_000).default(5_000) }),
  // What applying a state touches, as for a notification, and the items of what could not be refreshed.
  entities: [...(appleHandleNotification.entities ?? []), HubReconciliationItem],
  options: { attempts: 5, backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 } },
  async handle({ batchSize }, ctx) {
    const apple = ctx.integrations.apple;
    const now = ctx.now();
    const result: SyncSubscriptionsResult = { refreshed: 0, changed: 0, failed: [], skipped: 0 };
    // An answer covers every subscription group of the customer: its other subscriptions need no call of their own.
    const asked = new Set<string>();
    for (let after = ''; ; ) {
      ctx.signal.throwIfAborted();
      const window = await candidateWindow(ctx.db, after, batchSize, now);
      for (const c of window.candidates) {
        if (asked.has(c.originalTransactionId)) continue;
        const environment = environmentOf(apple, c);
        if (!environment) {
          result.skipped += 1;
          continue;
        }
        await refresh(ctx, apple, environment, c, result, asked);
        await ctx.progress(result.refreshed);
      }
      if (window.lastOid === null) break;
      after = window.lastOid;
    }
    if (result.refreshed > 0) ctx.log.info({ ...result, failed: result.failed.length }, 'apple subscriptions refreshed');
    return done(result);
  },
});

/** The row's environment when this hub accepts it; receipt-era rows without one are asked in the first configured. */
function environmentOf(apple: AppleIntegration, c: SyncCandidate): AppleEnvironment | null {
  if (c.environment === null || c.environment === '') return apple.environments[0] ?? null;
  return apple.environments.find((e) => e === c.environment) ?? null;
}

async function refresh(ctx: JobContext, apple: AppleIntegration, environment: AppleEnvironment, c: SyncCandidate, result: SyncSubscriptionsResult, seen: Set<string>): Promise<void> {
  seen.add(c.originalTransactionId);
  result.refreshed += 1;
  try {
    const statuses = await apple.api.getAllSubscriptionStatuses(environment, c.originalTransactionId);
    for (const s of statuses) seen.add(s.originalTransactionId);
    const applied = await applyStatuses(ctx.db, apple, environment, statuses, { now: ctx.now(), log: ctx.log });
    result.changed += applied.filter((a) => a.outcome.changed).length;
  } catch (err) {
    // Retryable, rate-limited and account-wide errors fail the run (the runner retries it; what was applied stays applied).
    if (!isSubscriptionError(err)) throw err;
    result.failed.push({ originalTransactionId: c.originalTransactionId, code: err.code });
    ctx.log.warn({ err, originalTransactionId: c.originalTransactionId, environment }, 'apple subscription could not be refreshed: recorded and skipped');
    await recordAppleItem(
      ctx.db,
      {
        runId: null,
        source: 'SYNC',
        kind: 'APPLE_UNKNOWN_TRANSACTION',
        merchant: appleMerchant(apple.bundleId, environment),
        originalTransactionId: c.originalTransactionId,
        transactionId: c.transactionId,
        localTable: 'apple_order',
        appleValue: err.code,
        localValue: c.subscriptionStatus === null ? null : String(c.subscriptionStatus),
        autoFix: null,
        dedupeKey: `apple-sync-${environment}-${c.originalTransactionId}-${err.code}`,
      },
      ctx.now(),
    );
  }
}
