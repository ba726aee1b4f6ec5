import type { DataSource } from 'typeorm';
import { AppleOrder, AppleOrderProductType, AppleSubscriptionStatusCode } from '../../entities/app/apple-order.entity';
import { sqlTable } from '../../entities/raw-sql';

/**
 * The subscriptions whose state may have moved without the hub hearing of it: the latest
 * transaction of each original transaction, when it expires within a day (or is past its expiry
 * while we still think it active), is in grace, or expired with auto-renew still on (Apple's
 * billing retry, which can recover it for up to 60 days; the seed's codes have no state of its own for it).
 */

const DAY_MS = 86_400_000;
/** How far back an expiry still matters: Apple retries billing for up to 60 days. */
export const BILLING_RETRY_WINDOW_MS = 60 * DAY_MS;
/** "Expiring soon": within this of now. */
export const EXPIRING_WITHIN_MS = DAY_MS;

export interface SyncCandidate {
  readonly oid: string;
  readonly originalTransactionId: string;
  readonly transactionId: string;
  readonly environment: string | null;
  readonly subscriptionStatus: number | null;
}

export interface CandidateWindow {
  readonly candidates: SyncCandidate[];
  /** The last primary key of the window; null when the table has no rows after it. */
  readonly lastOid: string | null;
}

/**
 * One primary-key window of `size` rows after `afterOid`, and the candidates in it: each statement
 * reads at most `size` rows of apple_order by its primary key, whatever the table's size.
 */
export async function candidateWindow(db: DataSource, afterOid: string, size: number, now: Date): Promise<CandidateWindow> {
  const t = sqlTable(db.manager, AppleOrder).path;
  const [end] = (await db.query(`SELECT oid FROM ${t} WHERE oid > ? ORDER BY oid LIMIT 1 OFFSET ${size - 1}`, [afterOid])) as { oid: string }[];
  const upper = end ? 'AND o.oid <= ?' : '';
  const { ACTIVE, EXPIRED, GRACE } = AppleSubscriptionStatusCode;
  const rows = (await db.query(
    `SELECT o.oid, o.original_transaction_id AS originalTransactionId, o.transaction_id AS transactionId, o.environment,
            o.subscription_status AS subscriptionStatus
     FROM ${t} o
     WHERE o.oid > ? ${upper} AND o.product_type = ${AppleOrderProductType.AUTO_RENEWABLE} AND o.expires_date >= ?
       AND ((o.subscription_status IN (${ACTIVE}, ${GRACE}) AND o.expires_date < ?) OR o.subscription_status = ${GRACE}
            OR (o.subscription_status = ${EXPIRED} AND o.auto_renew_status = 1))
       AND NOT EXISTS (SELECT 1 FROM ${t} n WHERE n.original_transaction_id = o.original_transaction_id
                         AND (n.purchase_date > o.purchase_date OR (n.purchase_date = o.purchase_date AND n.oid > o.oid)))
     ORDER BY o.oid`,
    [afterOid, ...(end ? [end.oid] : []), new Date(now.getTime() - BILLING_RETRY_WINDOW_MS), new Date(now.getTime() + EXPIRING_WITHIN_MS)],
  )) as SyncCandidate[];
  return { candidates: rows, lastOid: end?.oid ?? null };
}
