import type { DataSource } from 'typeorm';
import { HubReconciliationItem, type APPLE_RECONCILIATION_KINDS } from '../../entities/hub/hub-reconciliation-item.entity';
import { insertIfAbsent } from '../../entities/raw-sql';
import type { AppleEnvironment } from '../../integrations/apple/apple.client';

export const APPLE_CHANNEL = 'APPLE';

export type AppleReconciliationKind = (typeof APPLE_RECONCILIATION_KINDS)[number];

/** What found an Apple item: the day's notification history, the status comparison, or the hourly sync. */
export type AppleItemSource = 'HISTORY' | 'STATUS' | 'SYNC';

/**
 * The `merchant` of Apple runs and items: the app and the environment, since one bundle reconciles
 * Production and Sandbox apart (App Review buys in Sandbox).
 */
export function appleMerchant(bundleId: string, environment: AppleEnvironment): string {
  return `${bundleId}/${environment}`;
}

export interface AppleItem {
  readonly runId: string | null;
  readonly source: AppleItemSource;
  readonly kind: AppleReconciliationKind;
  readonly merchant: string;
  /** The subscription (or purchase) as Apple names it: out_trade_no of the item. */
  readonly originalTransactionId: string;
  readonly transactionId: string | null;
  /** apple_order when the hub has the transaction, else null. */
  readonly localTable: string | null;
  /** Apple's side: a status, an expiry (Beijing time), a notification type or an error code. */
  readonly appleValue: string | null;
  readonly localValue: string | null;
  readonly autoFix: string | null;
  /** One item per finding, however often a run or the sync meets it again. */
  readonly dedupeKey: string;
}

/** Records an item once (its dedupe key is unique); true when it is new. */
export async function recordAppleItem(db: DataSource, item: AppleItem, now: Date): Promise<boolean> {
  const { affectedRows } = await insertIfAbsent(db.manager, HubReconciliationItem, {
    runId: item.runId,
    source: item.source,
    kind: item.kind,
    merchant: item.merchant,
    outTradeNo: item.originalTransactionId.slice(0, 64),
    transactionId: item.transactionId?.slice(0, 64) ?? null,
    localTable: item.localTable,
    wechatStatus: item.appleValue?.slice(0, 32) ?? null,
    localStatus: item.localValue?.slice(0, 32) ?? null,
    autoFix: item.autoFix,
    dedupeKey: item.dedupeKey.slice(0, 191),
    createdTime: now,
  });
  return affectedRows === 1;
}
