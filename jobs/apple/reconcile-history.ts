import type { AppleEnvironment, AppleIntegration, AppleNotificationHistoryItem } from '../../integrations/apple/apple.client';
import type { JobContext } from '../context';
import { appleHandleNotification } from './apple-handle-notification.job';
import { recordAppleItem } from './reconcile-items';
import { appleEventType, storeAppleNotification } from './store-apple-notification';

/**
 * Replays one day of Get Notification History: every notification Apple sent is stored as the
 * webhook would have stored it (pay_notify_log, once per notificationUUID), and one the hub never
 * handled (never received, or received and stuck) is handled now.
 */

export interface ReplayScope {
  readonly apple: AppleIntegration;
  readonly environment: AppleEnvironment;
  readonly runId: string;
  readonly merchant: string;
  /** Epoch ms, [start, end). */
  readonly startDate: number;
  readonly endDate: number;
}

export interface Replayed {
  /** Distinct notifications Apple sent in the window. */
  notifications: number;
  /** Of those, the ones Apple lists as not delivered (no 2xx on any attempt yet). */
  failedDeliveries: number;
  /** Notifications the hub had not handled, applied by this run. */
  missed: number;
  /** Auto-renewable subscriptions the day's notifications touched: original transaction ids. */
  readonly touched: Set<string>;
}

const AUTO_RENEWABLE = 'Auto-Renewable Subscription';

/** Failed deliveries first (the ones the hub surely lacks), then every notification of the day. */
export async function replayHistory(ctx: JobContext, s: ReplayScope): Promise<Replayed> {
  const out: Replayed = { notifications: 0, failedDeliveries: 0, missed: 0, touched: new Set() };
  const seen = new Set<string>();
  for (const onlyFailures of [true, false]) {
    let token: string | null = null;
    do {
      ctx.signal.throwIfAborted();
      const page = await s.apple.api.getNotificationHistory(s.environment, { startDate: s.startDate, endDate: s.endDate, onlyFailures }, token);
      for (const item of page.items) {
        const uuid = item.notification.payload.notificationUUID;
        // Each environment has its own history and its own run.
        if (!uuid || seen.has(uuid) || item.notification.environment !== s.environment) continue;
        seen.add(uuid);
        out.notifications += 1;
        if (onlyFailures) out.failedDeliveries += 1;
        if (await replayOne(ctx, s, item, out.touched)) out.missed += 1;
      }
      await ctx.progress(out.notifications);
      token = page.hasMore ? page.paginationToken : null;
    } while (token);
  }
  return out;
}

/** Stores one notification and handles it when the hub had not. True when it had not. */
async function replayOne(ctx: JobContext, s: ReplayScope, item: AppleNotificationHistoryItem, touched: Set<string>): Promise<boolean> {
  const n = item.notification;
  const tx = n.transaction;
  if (tx?.originalTransactionId && tx.type === AUTO_RENEWABLE) touched.add(tx.originalTransactionId);
  const now = ctx.now();
  const stored = await storeAppleNotification(ctx.db, n, JSON.stringify({ signedPayload: item.signedPayload }), now);
  if (stored.handled) return false;
  // Handled here, by the notification job's own code, before the statuses are compared, so the
  // comparison sees what Apple had told us. The row turns handled; a copy of the job enqueued by
  // the sweeper meanwhile finds it so and skips.
  const handled = await appleHandleNotification.handle({ payNotifyLogId: stored.rowId }, ctx);
  const outcome = handled.status === 'done' ? handled.result.outcome : null;
  const type = appleEventType(n);
  await recordAppleItem(
    ctx.db,
    {
      runId: s.runId,
      source: 'HISTORY',
      kind: 'APPLE_MISSED_NOTIFICATION',
      merchant: s.merchant,
      originalTransactionId: tx?.originalTransactionId ?? n.payload.notificationUUID ?? '',
      transactionId: tx?.transactionId ?? null,
      localTable: 'pay_notify_log',
      appleValue: type,
      localValue: stored.created ? 'NOT_RECEIVED' : 'NOT_HANDLED',
      autoFix: outcome === 'orphaned' ? 'ORPHAN_PARKED' : outcome === null ? null : 'APPLIED',
      dedupeKey: `apple-missed-${n.payload.notificationUUID ?? ''}`,
    },
    now,
  );
  ctx.log.info({ notificationUUID: n.payload.notificationUUID, type, rowId: stored.rowId, received: !stored.created, outcome }, 'missed apple notification replayed');
  return true;
}
