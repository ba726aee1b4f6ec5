import type { JWSRenewalInfoDecodedPayload, JWSTransactionDecodedPayload } from '@apple/app-store-server-library';
import type { DataSource, EntityManager } from 'typeorm';
import { z } from 'zod';
import { AppleOrder, AppleOrderProductType, AppleDataSource } from '../../entities/app/apple-order.entity';
import { AppleProduct } from '../../entities/app/apple-product.entity';
import { AppUser } from '../../entities/app/user.entity';
import { HubAppleOrphan } from '../../entities/hub/hub-apple-orphan.entity';
import { HubAppleTransaction } from '../../entities/hub/hub-apple-transaction.entity';
import { insertIfAbsent } from '../../entities/raw-sql';
import { APPLE_ENVIRONMENTS, type AppleIntegration } from '../../integrations/apple/apple.client';
import { BusinessSource, OperationType, writeAudit } from '../../entities/dms/audit';
import { PermanentError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { uidOfAppAccountToken } from './app-account-token';
import { orderFacts, productTypeOf, type AppleOrderFacts } from './apple-order-fields';
import { lockParked, markApplied, parkOrphan, parkedFor, tokenOf } from './apple-orphans';
import { applySubscriptionState, ensureSubscriptionRow, lockSubscription } from './apple-subscription-state';
import { applyAppleVip, computeAppleVip } from './apple-vip';
import type { AppleTransactionState } from './apple-transaction-state';

export type { AppleTransactionState } from './apple-transaction-state';

/**
 * The one place an App Store transaction state reaches our tables, whoever learned it (a
 * notification, the status API, the nightly replay). Per transaction and per subscription the
 * newest signedDate wins: an older state changes nothing it would take back. The order row, the
 * subscription state and the user's VIP move in one transaction, under locks taken in one order
 * (subscription, transaction, user), so concurrent deliveries take turns.
 */

export interface AppleApplyOutcome {
  orderId: string | null;
  uid: number | null;
  orphaned: boolean;
  stale: boolean;
  changed: boolean;
}

export interface AppleApplyOptions {
  now: Date;
  log: Logger;
}

/** `oid` of a row the hub creates: the seed's `AP` prefix and Apple's transaction id, the same on every run. */
export const appleOrderOid = (transactionId: string): string => `AP${transactionId}`;

export async function applyAppleTransactionState(db: DataSource, apple: AppleIntegration, state: AppleTransactionState, opts: AppleApplyOptions): Promise<AppleApplyOutcome> {
  await ensureLockRows(db.manager, state, opts.now);
  const outcome = await db.transaction((m) => applyIn(m, apple, state, opts));
  if (!outcome.orphaned) {
    const otid = state.transaction.originalTransactionId ?? '';
    for (const orphan of await parkedFor(db, otid, tokenOf(state))) await claimAppleOrphan(db, apple, orphan.id, opts);
  }
  return outcome;
}

const storedState = z.object({
  environment: z.enum(APPLE_ENVIRONMENTS),
  transaction: z.custom<JWSTransactionDecodedPayload>((v) => typeof v === 'object' && v !== null),
  renewal: z.custom<JWSRenewalInfoDecodedPayload>((v) => typeof v === 'object' && v !== null).nullable(),
  status: z.number().nullable(),
  notificationType: z.string().nullable(),
  subtype: z.string().nullable(),
  signedDate: z.number(),
});

/** Applies a parked state if its user has appeared; returns the outcome, or null when it was no longer parked. */
export async function claimAppleOrphan(db: DataSource, apple: AppleIntegration, orphanId: string, opts: AppleApplyOptions): Promise<AppleApplyOutcome | null> {
  const peek = await db.getRepository(HubAppleOrphan).findOne({ where: { id: orphanId } });
  if (!peek) return null;
  await ensureLockRows(db.manager, readStoredState(peek), opts.now);
  return db.transaction(async (m) => {
    const orphan = await lockParked(m, orphanId);
    if (!orphan) return null;
    const outcome = await applyIn(m, apple, readStoredState(orphan), opts);
    if (!outcome.orphaned && outcome.uid !== null) {
      await markApplied(m, orphanId, outcome.uid, opts.now);
      opts.log.info({ orphanId, uid: outcome.uid, transactionId: orphan.transactionId }, 'parked app store transaction applied to its user');
    }
    return outcome;
  });
}

function readStoredState(orphan: HubAppleOrphan): AppleTransactionState {
  const parsed = storedState.safeParse(typeof orphan.state === 'string' ? JSON.parse(orphan.state) : orphan.state);
  if (!parsed.success) throw new PermanentError('APPLE_ORPHAN_STATE', `hub_apple_orphan ${orphan.id}: stored state unreadable: ${parsed.error.issues[0]?.path.join('.') ?? ''}`);
  return parsed.data;
}

/**
 * The rows `applyIn` locks, made to exist first in statements of their own: inside the transaction
 * it then takes record locks only, never the gap locks a missing row would leave.
 */
async function ensureLockRows(m: EntityManager, state: AppleTransactionState, now: Date): Promise<void> {
  const tx = requireIds(state.transaction);
  if (isAutoRenewable(tx)) await ensureSubscriptionRow(m, tx.originalTransactionId, now);
  await insertIfAbsent(m, HubAppleTransaction, { transactionId: tx.transactionId, signedDate: 0, updatedTime: now });
}

/** An unknown type is read by its shape: only subscriptions expire. */
function productTypeFor(tx: JWSTransactionDecodedPayload): number {
  return productTypeOf(tx) ?? (tx.expiresDate ? AppleOrderProductType.AUTO_RENEWABLE : AppleOrderProductType.NON_CONSUMABLE);
}

const isAutoRenewable = (tx: JWSTransactionDecodedPayload): boolean => productTypeFor(tx) === AppleOrderProductType.AUTO_RENEWABLE;

type Ids = JWSTransactionDecodedPayload & { transactionId: string; originalTransactionId: string; productId: string };

function requireIds(tx: JWSTransactionDecodedPayload): Ids {
  const { transactionId, originalTransactionId, productId } = tx;
  if (!transactionId) throw new PermanentError('APPLE_TRANSACTION', 'transaction has no transactionId');
  if (!originalTransactionId) throw new PermanentError('APPLE_TRANSACTION', 'transaction has no originalTransactionId');
  if (!productId) throw new PermanentError('APPLE_TRANSACTION', 'transaction has no productId');
  return { ...tx, transactionId, originalTransactionId, productId };
}

async function applyIn(m: EntityManager, apple: AppleIntegration, state: AppleTransactionState, opts: AppleApplyOptions): Promise<AppleApplyOutcome> {
  const tx = requireIds(state.transaction);
  const productType = productTypeFor(tx);
  const isSubscription = productType === AppleOrderProductType.AUTO_RENEWABLE;
  const sub = isSubscription ? await lockSubscription(m, tx.originalTransactionId, opts.now) : null;
  const known = await lockTransaction(m, tx.transactionId, opts.now);
  // A plain read: the transaction's lock row already serializes its writers, and a locking read of a
  // missing row would hold a gap lock that blocks other users' inserts while this waits for its user.
  const existing = await m.createQueryBuilder(AppleOrder, 'o').where('o.transaction_id = :tid', { tid: tx.transactionId }).getOne();

  const uid = await findUser(m, existing, tx.originalTransactionId, tokenOf(state));
  if (uid === null) {
    await parkOrphan(m, state, tx, opts.now);
    opts.log.warn({ transactionId: tx.transactionId, originalTransactionId: tx.originalTransactionId, hasToken: tokenOf(state) !== null }, 'app store transaction has no known user: parked');
    return { orderId: null, uid: null, orphaned: true, stale: false, changed: false };
  }
  const user = await m.createQueryBuilder(AppUser, 'u').setLock('pessimistic_write').select(['u.uid', 'u.vipExpiredAt', 'u.isForeverVip']).where('u.uid = :uid', { uid }).getOne();
  if (!user) throw new Error(`user ${uid} vanished under its lock`);

  const rowStale = known.signedDate > state.signedDate;
  let changed = false;
  let oid = existing?.oid ?? null;
  if (!rowStale) {
    const facts = orderFacts(tx, productType, state.environment);
    const written = existing ? await updateOrder(m, existing, facts, uid, opts) : await insertOrder(m, tx, facts, uid, opts);
    oid = written.oid;
    changed = written.changed;
    await m.update(HubAppleTransaction, { transactionId: tx.transactionId }, { signedDate: state.signedDate, updatedTime: opts.now });
  }
  const subStale = sub !== null && sub.signedDate > state.signedDate;
  if (sub) changed = (await applySubscriptionState(m, sub, state, { stale: subStale, now: opts.now })) || changed;

  const vip = await computeAppleVip(m, uid, { sandboxGrantsVip: apple.sandboxGrantsVip });
  const vipChanged = await applyAppleVip(m, user, vip, opts.now);
  if (vipChanged) opts.log.info({ uid, vipExpiredAt: vip.vipExpiredAt, isForeverVip: vip.isForeverVip }, 'apple vip recomputed');
  return { orderId: oid, uid, orphaned: false, stale: rowStale && (sub === null || subStale), changed: changed || vipChanged };
}

/** The transaction's ordering row (ensureLockRows made it exist), locked. */
async function lockTransaction(m: EntityManager, transactionId: string, now: Date): Promise<HubAppleTransaction> {
  const locked = await m.createQueryBuilder(HubAppleTransaction, 't').setLock('pessimistic_write').where('t.transaction_id = :id', { id: transactionId }).getOne();
  if (locked) return locked;
  await insertIfAbsent(m, HubAppleTransaction, { transactionId, signedDate: 0, updatedTime: now });
  const row = await m.createQueryBuilder(HubAppleTransaction, 't').setLock('pessimistic_write').where('t.transaction_id = :id', { id: transactionId }).getOne();
  if (!row) throw new Error(`hub_apple_transaction ${transactionId} missing after insert`);
  return row;
}

/** The row's own user, else the user of any row of the subscription (receipt-era rows included), else the appAccountToken's. */
async function findUser(m: EntityManager, existing: AppleOrder | null, originalTransactionId: string, token: string | null): Promise<number | null> {
  if (existing && existing.uid > 0) return existing.uid;
  const linked = await m
    .createQueryBuilder(AppleOrder, 'o')
    .select(['o.uid'])
    .where('o.original_transaction_id = :otid AND o.uid > 0', { otid: originalTransactionId })
    .orderBy('o.created_at', 'ASC')
    .getOne();
  if (linked) return linked.uid;
  const fromToken = uidOfAppAccountToken(token);
  if (fromToken === null) return null;
  const user = await m.createQueryBuilder(AppUser, 'u').select(['u.uid']).where('u.uid = :uid', { uid: fromToken }).getOne();
  return user ? user.uid : null;
}

async function productOf(m: EntityManager, iapProductId: string): Promise<AppleProduct | null> {
  return m.createQueryBuilder(AppleProduct, 'p').where('p.iap_product_id = :id', { id: iapProductId }).orderBy('p.pid', 'ASC').getOne();
}

const FACT_KEYS = [
  'appleProductId',
  'productType',
  'paymentStatus',
  'originalTransactionId',
  'purchaseDate',
  'originalPurchaseDate',
  'expiresDate',
  'cancellationDate',
  'isTrialPeriod',
  'isInIntroOfferPeriod',
  'environment',
] as const satisfies readonly (keyof AppleOrderFacts)[];

const comparable = (v: unknown): unknown => (v instanceof Date ? v.getTime() : v);

async function insertOrder(m: EntityManager, tx: Ids, facts: AppleOrderFacts, uid: number, opts: AppleApplyOptions): Promise<{ oid: string; changed: boolean }> {
  const product = await productOf(m, tx.productId);
  if (!product) opts.log.warn({ productId: tx.productId, transactionId: tx.transactionId }, 'app store product missing from apple_product: order stored with product_id 0 and amount 0');
  const oid = appleOrderOid(tx.transactionId);
  const row = {
    oid,
    uid,
    productId: product ? Number(product.pid) : 0,
    amount: product?.salePrice ?? 0,
    ...facts,
    transactionId: tx.transactionId,
    subscriptionStatus: null,
    autoRenewStatus: null,
    autoRenewProductId: null,
    dataSource: AppleDataSource.NOTIFICATION,
    createdAt: opts.now,
    updatedAt: opts.now,
  };
  await m.insert(AppleOrder, row);
  await writeAudit(m, { businessNo: oid, source: BusinessSource.APPLE_ORDER, operation: OperationType.CREATE, newValue: auditView(row), remark: `app store transaction ${tx.transactionId}` }, opts.now);
  return { oid, changed: true };
}

/** Apple's facts only: the app's oid, uid, product, amount and data_source of a receipt-era row stay as they are. */
async function updateOrder(m: EntityManager, row: AppleOrder, facts: AppleOrderFacts, uid: number, opts: AppleApplyOptions): Promise<{ oid: string; changed: boolean }> {
  const set: Partial<AppleOrder> = {};
  for (const key of FACT_KEYS) if (comparable(row[key]) !== comparable(facts[key])) Object.assign(set, { [key]: facts[key] });
  if (row.uid === 0) set.uid = uid;
  if (row.productId === 0) {
    const product = await productOf(m, facts.appleProductId);
    if (product) Object.assign(set, { productId: Number(product.pid), amount: row.amount === 0 ? product.salePrice : row.amount });
  }
  if (Object.keys(set).length === 0) return { oid: row.oid, changed: false };
  await m.update(AppleOrder, { oid: row.oid }, { ...set, updatedAt: opts.now });
  if (set.paymentStatus !== undefined || set.uid !== undefined) {
    const after = { ...row, ...set };
    await writeAudit(m, { businessNo: row.oid, source: BusinessSource.APPLE_ORDER, operation: OperationType.UPDATE, oldValue: auditView(row), newValue: auditView(after), remark: `app store transaction ${row.transactionId}` }, opts.now);
  }
  return { oid: row.oid, changed: true };
}

export function auditView(r: Pick<AppleOrder, 'uid' | 'paymentStatus' | 'subscriptionStatus' | 'expiresDate' | 'cancellationDate'>): Record<string, unknown> {
  return { uid: r.uid, paymentStatus: r.paymentStatus, subscriptionStatus: r.subscriptionStatus, expiresDate: r.expiresDate, cancellationDate: r.cancellationDate };
}
