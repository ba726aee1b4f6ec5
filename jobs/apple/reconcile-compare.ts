import { AppleOrder, AppleSubscriptionStatusCode } from '../../entities/app/apple-order.entity';
import { sqlTable } from '../../entities/raw-sql';
import type { AppleEnvironment, AppleIntegration, AppleSubscriptionStatus } from '../../integrations/apple/apple.client';
import type { JobContext } from '../context';
import { formatBeijing } from '../../lib/time';
import { subscriptionView } from './apple-order-fields';
import { applyAppleTransactionState } from './apply-apple-transaction';
import { recordAppleItem, type AppleItem, type AppleReconciliationKind } from './reconcile-items';
import { isSubscriptionError, statusState } from './sync-statuses';

/**
 * The second half of a day's reconciliation: the subscriptions the day's notifications touched, as
 * Get All Subscription Statuses has them now, against apple_order. A difference is recorded with
 * both sides, then Apple's state is applied (ordered by signedDate like any notification).
 */

export interface CompareScope {
  readonly apple: AppleIntegration;
  readonly environment: AppleEnvironment;
  readonly runId: string;
  readonly merchant: string;
}

export interface Compared {
  subscriptions: number;
}

interface LocalRow {
  oid: string;
  subscription_status: number | string | null;
  expires_date: Date | null;
}

/** The seed's subscription_status a status answer means; a revoked or refunded transaction is 3 whatever its status. */
export function seedStatusOf(environment: AppleEnvironment, s: AppleSubscriptionStatus, now: Date): number {
  if (s.transaction.revocationDate) return AppleSubscriptionStatusCode.CANCELLED;
  return subscriptionView(statusState(environment, s, now), null).status;
}

const seconds = (ms: number): number => Math.floor(ms / 1_000);

export async function compareSubscriptions(ctx: JobContext, s: CompareScope, originalTransactionIds: Iterable<string>): Promise<Compared> {
  const out: Compared = { subscriptions: 0 };
  const compared = new Set<string>();
  for (const otid of originalTransactionIds) {
    if (compared.has(otid)) continue;
    ctx.signal.throwIfAborted();
    let statuses: readonly AppleSubscriptionStatus[];
    try {
      statuses = await s.apple.api.getAllSubscriptionStatuses(s.environment, otid);
    } catch (err) {
      if (!isSubscriptionError(err)) throw err;
      compared.add(otid);
      await record(ctx, s, { kind: 'APPLE_UNKNOWN_TRANSACTION', otid, transactionId: null, localTable: null, appleValue: err.code, localValue: null, autoFix: null, key: `APPLE_UNKNOWN_TRANSACTION-${otid}-${err.code}` });
      continue;
    }
    for (const status of statuses) {
      if (compared.has(status.originalTransactionId)) continue;
      compared.add(status.originalTransactionId);
      out.subscriptions += 1;
      await compareOne(ctx, s, status);
    }
  }
  return out;
}

interface Finding {
  kind: AppleReconciliationKind;
  appleValue: string | null;
  localValue: string | null;
}

/** Compares one subscription's latest transaction; records what differs and applies Apple's state. */
async function compareOne(ctx: JobContext, s: CompareScope, status: AppleSubscriptionStatus): Promise<void> {
  const tx = status.transaction;
  const transactionId = tx.transactionId ?? '';
  const [row] = (await ctx.db.query(`SELECT oid, subscription_status, expires_date FROM ${sqlTable(ctx.db.manager, AppleOrder).path} WHERE transaction_id = ?`, [
    transactionId,
  ])) as LocalRow[];
  const expected = seedStatusOf(s.environment, status, ctx.now());
  const findings: Finding[] = [];
  if (!row) {
    findings.push({ kind: 'APPLE_UNKNOWN_TRANSACTION', appleValue: String(expected), localValue: null });
  } else {
    const local = row.subscription_status === null ? null : Number(row.subscription_status);
    if (local !== expected) findings.push({ kind: 'APPLE_STATUS_MISMATCH', appleValue: String(expected), localValue: local === null ? null : String(local) });
    const appleExpires = tx.expiresDate === undefined ? null : seconds(tx.expiresDate);
    const localExpires = row.expires_date ? seconds(row.expires_date.getTime()) : null;
    if (appleExpires !== localExpires) {
      findings.push({
        kind: 'APPLE_EXPIRES_MISMATCH',
        appleValue: appleExpires === null ? null : formatBeijing(new Date(appleExpires * 1_000)),
        localValue: localExpires === null ? null : formatBeijing(new Date(localExpires * 1_000)),
      });
    }
  }
  if (findings.length === 0) return;
  const now = ctx.now();
  const outcome = await applyAppleTransactionState(ctx.db, s.apple, statusState(s.environment, status, now), { now, log: ctx.log });
  const autoFix = outcome.changed ? 'STATUS_APPLIED' : outcome.orphaned ? 'ORPHAN_PARKED' : null;
  for (const f of findings) {
    await record(ctx, s, {
      kind: f.kind,
      otid: status.originalTransactionId,
      transactionId,
      localTable: row ? 'apple_order' : null,
      appleValue: f.appleValue,
      localValue: f.localValue,
      autoFix,
      key: `${f.kind}-${transactionId}-${f.appleValue ?? ''}-${f.localValue ?? ''}`,
    });
  }
  ctx.log.info({ originalTransactionId: status.originalTransactionId, transactionId, findings, autoFix }, 'apple subscription differs from apple_order');
}

type Recorded = Pick<AppleItem, 'kind' | 'transactionId' | 'localTable' | 'appleValue' | 'localValue' | 'autoFix'> & { otid: string; key: string };

/** An item of the run; its key is scoped to the run, so a re-run of the day adds nothing it already found. */
async function record(ctx: JobContext, s: CompareScope, r: Recorded): Promise<void> {
  await recordAppleItem(
    ctx.db,
    {
      runId: s.runId,
      source: 'STATUS',
      kind: r.kind,
      merchant: s.merchant,
      originalTransactionId: r.otid,
      transactionId: r.transactionId,
      localTable: r.localTable,
      appleValue: r.appleValue,
      localValue: r.localValue,
      autoFix: r.autoFix,
      dedupeKey: `apple-${s.runId}-${r.key}`,
    },
    ctx.now(),
  );
}
