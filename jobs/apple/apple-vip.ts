import type { EntityManager } from 'typeorm';
import { AppleOrder, AppleOrderProductType, ApplePaymentStatus, AppleSubscriptionStatusCode } from '../../entities/app/apple-order.entity';
import { AppleProduct, AppleProductType } from '../../entities/app/apple-product.entity';
import { AppUser } from '../../entities/app/user.entity';
import { HubAppleSubscription } from '../../entities/hub/hub-apple-subscription.entity';
import { HubAppleVip } from '../../entities/hub/hub-apple-vip.entity';
import { insertIfAbsent } from '../../entities/raw-sql';
import { toSeconds } from './apple-order-fields';

/**
 * A user's VIP from every Apple grant they hold, recomputed from all their `apple_order` rows at
 * once: the same rows give the same answer whatever order the notifications came in, and a refund
 * takes away only the grant of its own transaction.
 */

const DAY_MS = 86_400_000;

export interface AppleVip {
  /** The latest grant's end, null when no grant is left; undefined when the user holds no Apple time product (not ours to set). */
  vipExpiredAt: Date | null | undefined;
  /** Undefined when the user never bought a permanent product. */
  isForeverVip: 0 | 1 | undefined;
}

interface Grant {
  start: number;
  tieBreak: string;
  /** An auto-renewable period ends at a date; a non-renewing pass adds days to whatever is current at purchase. */
  end?: number;
  days?: number;
}

/** Reads the rows under a shared lock: the caller holds the user's row lock, so the rows are the committed latest. */
export async function computeAppleVip(m: EntityManager, uid: number, opts: { sandboxGrantsVip: boolean }): Promise<AppleVip> {
  const rows = await m.createQueryBuilder(AppleOrder, 'o').setLock('pessimistic_read').where('o.uid = :uid', { uid }).getMany();
  if (rows.length === 0) return { vipExpiredAt: undefined, isForeverVip: undefined };
  const productIds = [...new Set(rows.map((r) => r.appleProductId))];
  const products = await m.createQueryBuilder(AppleProduct, 'p').where('p.iap_product_id IN (:...ids)', { ids: productIds }).orderBy('p.pid', 'ASC').getMany();
  const productOf = new Map<string, AppleProduct>();
  for (const p of products) if (!productOf.has(p.iapProductId)) productOf.set(p.iapProductId, p);
  const otids = [...new Set(rows.filter((r) => r.productType === AppleOrderProductType.AUTO_RENEWABLE).map((r) => r.originalTransactionId))];
  const subs = otids.length === 0 ? [] : await m.createQueryBuilder(HubAppleSubscription, 's').where('s.original_transaction_id IN (:...otids)', { otids }).getMany();
  const subOf = new Map(subs.map((s) => [s.originalTransactionId, s]));

  let holdsDays = false;
  let holdsForever = false;
  let forever = false;
  const grants: Grant[] = [];
  for (const row of rows) {
    const product = productOf.get(row.appleProductId);
    if (!product) continue;
    holdsDays ||= product.type === AppleProductType.VIP_DAYS;
    holdsForever ||= product.type === AppleProductType.FOREVER_VIP;
    if (row.paymentStatus !== ApplePaymentStatus.PAID || !row.purchaseDate) continue;
    if (row.environment === 'Sandbox' && !opts.sandboxGrantsVip) continue;
    if (product.type === AppleProductType.FOREVER_VIP) forever = true;
    if (product.type !== AppleProductType.VIP_DAYS) continue;
    const start = row.purchaseDate.getTime();
    if (row.productType === AppleOrderProductType.AUTO_RENEWABLE) {
      const end = periodEnd(row, rows, subOf.get(row.originalTransactionId));
      if (end !== null) grants.push({ start, tieBreak: row.transactionId, end });
    } else {
      const days = Number.parseInt(product.functionValue ?? '', 10);
      if (Number.isFinite(days) && days > 0) grants.push({ start, tieBreak: row.transactionId, days });
    }
  }
  grants.sort((a, b) => a.start - b.start || a.tieBreak.localeCompare(b.tieBreak));
  let current: number | null = null;
  for (const g of grants) {
    if (g.end !== undefined) current = Math.max(current ?? g.end, g.end);
    else if (g.days !== undefined) current = Math.max(current ?? g.start, g.start) + g.days * DAY_MS;
  }
  return {
    vipExpiredAt: holdsDays ? (current === null ? null : new Date(current)) : undefined,
    isForeverVip: holdsForever ? (forever ? 1 : 0) : undefined,
  };
}

/**
 * Apple's expiresDate, cut where a later period of the same subscription began (an upgrade ends
 * the old product at once), or stretched to the grace end while the latest period is in grace.
 */
function periodEnd(row: AppleOrder, rows: readonly AppleOrder[], sub: HubAppleSubscription | undefined): number | null {
  if (!row.expiresDate || !row.purchaseDate) return null;
  const start = row.purchaseDate.getTime();
  let end = row.expiresDate.getTime();
  const later = rows
    .filter((r) => r.originalTransactionId === row.originalTransactionId && r.purchaseDate && (r.purchaseDate.getTime() > start || (r.purchaseDate.getTime() === start && r.transactionId > row.transactionId)))
    .map((r) => r.purchaseDate?.getTime() ?? Number.POSITIVE_INFINITY);
  if (later.length > 0) return Math.min(end, ...later);
  if (sub?.status === AppleSubscriptionStatusCode.GRACE && sub.graceExpiresDate) end = Math.max(end, sub.graceExpiresDate.getTime());
  return end;
}

/**
 * The app writes these columns too (Android orders, admins), so Apple's answer is laid over theirs,
 * never in place of it. A value that differs from what the hub last left there is someone else's:
 * it is remembered as the floor (the latest such value, so a lowering by the app, a refund or a
 * revocation on its side, holds too) and the user gets the later of that floor and Apple's grants.
 * The caller holds the user's row lock. Returns whether the user row changed.
 */
export async function applyAppleVip(m: EntityManager, user: Pick<AppUser, 'uid' | 'vipExpiredAt' | 'isForeverVip'>, vip: AppleVip, now: Date): Promise<boolean> {
  if (vip.vipExpiredAt === undefined && vip.isForeverVip === undefined) return false;
  // Made to exist first, so the locking read takes a record lock, never a gap lock that would hold
  // back other users' inserts. Applies for one user queue on the user's row lock, so none races this.
  await insertIfAbsent(m, HubAppleVip, { uid: user.uid, foreignForever: 0, updatedTime: now });
  const seen = await m.createQueryBuilder(HubAppleVip, 'v').setLock('pessimistic_write').where('v.uid = :uid', { uid: user.uid }).getOne();
  if (!seen) throw new Error(`hub_apple_vip ${user.uid} missing after insert`);
  const set: { vipExpiredAt?: Date | null; isForeverVip?: number } = {};
  const record: Partial<Pick<HubAppleVip, 'writtenVipExpiredAt' | 'foreignFloor' | 'writtenForever' | 'foreignForever'>> = {};

  if (vip.vipExpiredAt !== undefined) {
    const floor = sameInstant(user.vipExpiredAt, seen.writtenVipExpiredAt) ? seen.foreignFloor : user.vipExpiredAt;
    const next = laterOf(floor, toSeconds(vip.vipExpiredAt?.getTime()));
    if (!sameInstant(next, user.vipExpiredAt)) set.vipExpiredAt = next;
    if (!sameInstant(floor, seen.foreignFloor)) record.foreignFloor = floor;
    if (!sameInstant(next, seen.writtenVipExpiredAt)) record.writtenVipExpiredAt = next;
  }
  if (vip.isForeverVip !== undefined) {
    const current = user.isForeverVip > 0 ? 1 : 0;
    const foreign = seen.writtenForever !== null && user.isForeverVip === seen.writtenForever ? seen.foreignForever : current;
    const next = Math.max(foreign, vip.isForeverVip);
    if (next !== user.isForeverVip) set.isForeverVip = next;
    if (foreign !== seen.foreignForever) record.foreignForever = foreign;
    if (next !== seen.writtenForever) record.writtenForever = next;
  }
  if (Object.keys(record).length > 0) await m.update(HubAppleVip, { uid: user.uid }, { ...record, updatedTime: now });
  if (Object.keys(set).length === 0) return false;
  await m.createQueryBuilder().update(AppUser).set(set).where('uid = :uid', { uid: user.uid }).execute();
  return true;
}

const sameInstant = (a: Date | null, b: Date | null): boolean => (a?.getTime() ?? null) === (b?.getTime() ?? null);

/** Null only when both are. */
function laterOf(a: Date | null, b: Date | null): Date | null {
  if (a === null || b === null) return a ?? b;
  return a.getTime() >= b.getTime() ? a : b;
}
