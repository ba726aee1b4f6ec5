import type { EntityManager } from 'typeorm';
import { AppleOrder, ApplePaymentStatus, AppleSubscriptionStatusCode } from '../../entities/app/apple-order.entity';
import { HubAppleSubscription } from '../../entities/hub/hub-apple-subscription.entity';
import { insertIfAbsent } from '../../entities/raw-sql';
import { BusinessSource, OperationType, writeAudit } from '../../entities/dms/audit';
import { subscriptionView } from './apple-order-fields';
import type { AppleTransactionState } from './apple-transaction-state';

/**
 * A subscription's state lives in `hub_apple_subscription` (newest signedDate wins) and shows on
 * its `apple_order` rows: the latest period carries it, earlier periods are over (2), refunded or
 * revoked ones are cancelled (3) whatever came later.
 */

/**
 * The subscription's row, created empty (signedDate 0) the first time. Created in a statement of its
 * own before the transaction: two transactions that both insert the same key and then lock it
 * hold shared locks each wants the other to give up.
 */
export async function ensureSubscriptionRow(m: EntityManager, originalTransactionId: string, now: Date): Promise<void> {
  await insertIfAbsent(m, HubAppleSubscription, { originalTransactionId, status: 0, appleStatus: null, graceExpiresDate: null, signedDate: 0, updatedTime: now });
}

/** The subscription's row under a record lock (ensureSubscriptionRow made it exist). */
export async function lockSubscription(m: EntityManager, originalTransactionId: string, now: Date): Promise<HubAppleSubscription> {
  const locked = await m.createQueryBuilder(HubAppleSubscription, 's').setLock('pessimistic_write').where('s.original_transaction_id = :id', { id: originalTransactionId }).getOne();
  if (locked) return locked;
  await ensureSubscriptionRow(m, originalTransactionId, now);
  const row = await m.createQueryBuilder(HubAppleSubscription, 's').setLock('pessimistic_write').where('s.original_transaction_id = :id', { id: originalTransactionId }).getOne();
  if (!row) throw new Error(`hub_apple_subscription ${originalTransactionId} missing after insert`);
  return row;
}

/** Moves the subscription to `state` unless it is stale, then projects it onto its order rows; returns whether anything changed. */
export async function applySubscriptionState(m: EntityManager, sub: HubAppleSubscription, state: AppleTransactionState, opts: { stale: boolean; now: Date }): Promise<boolean> {
  let changed = false;
  if (!opts.stale) {
    const view = subscriptionView(state, sub.signedDate === 0 ? null : sub.status);
    const next = { status: view.status, appleStatus: state.status ?? sub.appleStatus, graceExpiresDate: view.graceExpiresDate, signedDate: state.signedDate };
    changed = next.status !== sub.status || (next.graceExpiresDate?.getTime() ?? null) !== (sub.graceExpiresDate?.getTime() ?? null);
    await m.update(HubAppleSubscription, { originalTransactionId: sub.originalTransactionId }, { ...next, updatedTime: opts.now });
    Object.assign(sub, next);
  }
  const renewal = opts.stale ? null : state.renewal;
  return (await projectOntoRows(m, sub, renewal, opts.now)) || changed;
}

async function projectOntoRows(m: EntityManager, sub: HubAppleSubscription, renewal: AppleTransactionState['renewal'], now: Date): Promise<boolean> {
  const rows = await m.createQueryBuilder(AppleOrder, 'o').setLock('pessimistic_write').where('o.original_transaction_id = :otid', { otid: sub.originalTransactionId }).getMany();
  const latest = rows.reduce<AppleOrder | null>((best, r) => (best === null || later(r, best) ? r : best), null);
  let changed = false;
  for (const row of rows) {
    const isLatest = row === latest;
    const status =
      row.paymentStatus === ApplePaymentStatus.REFUNDED ? AppleSubscriptionStatusCode.CANCELLED : isLatest ? sub.status || null : AppleSubscriptionStatusCode.EXPIRED;
    const set: Partial<AppleOrder> = {};
    if (status !== row.subscriptionStatus) set.subscriptionStatus = status;
    if (isLatest && renewal) {
      const autoRenew = renewal.autoRenewStatus ?? null;
      if (autoRenew !== row.autoRenewStatus) set.autoRenewStatus = autoRenew;
      const autoRenewProduct = renewal.autoRenewProductId ?? null;
      if (autoRenewProduct !== row.autoRenewProductId) set.autoRenewProductId = autoRenewProduct;
    }
    if (Object.keys(set).length === 0) continue;
    changed = true;
    await m.update(AppleOrder, { oid: row.oid }, { ...set, updatedAt: now });
    if (set.subscriptionStatus !== undefined) {
      await writeAudit(
        m,
        {
          businessNo: row.oid,
          source: BusinessSource.APPLE_ORDER,
          operation: OperationType.UPDATE,
          oldValue: { subscriptionStatus: row.subscriptionStatus },
          newValue: { subscriptionStatus: set.subscriptionStatus },
          remark: `app store subscription ${sub.originalTransactionId}`,
        },
        now,
      );
    }
  }
  return changed;
}

/** Period order: purchase date, then transaction id (Apple's ids grow). */
function later(a: AppleOrder, b: AppleOrder): boolean {
  const ta = a.purchaseDate?.getTime() ?? 0;
  const tb = b.purchaseDate?.getTime() ?? 0;
  return ta !== tb ? ta > tb : a.transactionId > b.transactionId;
}
