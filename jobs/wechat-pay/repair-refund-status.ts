import type { EntityManager } from 'typeorm';
import { AndroidOrder, AndroidOrderStatus } from '../../entities/app/android-order.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { PaymentOrder, type PayStatus } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { sqlTable } from '../../entities/raw-sql';
import { isDuplicateKeyError } from '../../lib/errors';
import { raiseAlert } from '../messaging/alert-ops';
import { payStatusAfter, refundAndroidIfFull, refundBusinessOrders, updatePayment, type RefundApplyContext } from './apply-wechat-refund';

/**
 * The safety net under the apply path (apply-wechat-refund.ts): finds payments whose status
 * disagrees with their refunds, a REFUNDING payment with no refund in flight (the stale read that
 * once left 48 refunded refunds' payment REFUNDING for good), a settled one with a refund in
 * flight, a fully refunded one not REFUNDED, an app order fully refunded and still paid, and
 * repairs each under its lock as the apply path would have left it, with the audit row in the same
 * transaction and an alert. Money is never rewritten: a `refunded_amount` that differs from what
 * its REFUNDED refunds add up to is recorded (a reconciliation item, once per difference) and
 * alerted, and that payment is left for ops.
 */

export type RepairContext = RefundApplyContext & { readonly signal?: AbortSignal };

export interface RefundRepairResult {
  /** Payments and app orders whose status was set right. */
  repaired: number;
  /** Payments whose refunded_amount differs from their REFUNDED refunds (recorded, not repaired). */
  amountMismatches: number;
}

const PAGE_SIZE = 500;
/** How far back refunds that ended are checked for money and for app orders left paid. */
export const REPAIR_LOOKBACK_MS = 24 * 3_600_000;
const REMARK = 'refund-sync repair: pay_status disagreed with its refunds';

type Alerts = (() => Promise<void>)[];

/** Detection in PK order, a page per statement; each payment is then judged again under its lock. */
export async function repairRefundStatuses(ctx: RepairContext): Promise<RefundRepairResult> {
  const result: RefundRepairResult = { repaired: 0, amountMismatches: 0 };
  const since = new Date(ctx.now().getTime() - REPAIR_LOOKBACK_MS);
  for (let after = '0'; !ctx.signal?.aborted; ) {
    const ids = await paymentCandidates(ctx, after, since);
    for (const id of ids) {
      const outcome = await repairPayment(ctx, id);
      if (outcome === 'repaired') result.repaired += 1;
      if (outcome === 'amount-mismatch') result.amountMismatches += 1;
    }
    const last = ids.at(-1);
    if (last === undefined || ids.length < PAGE_SIZE) break;
    after = last;
  }
  for (let after = ''; !ctx.signal?.aborted; ) {
    const oids = await androidCandidates(ctx, after, since);
    for (const oid of oids) if (await repairAndroid(ctx, oid)) result.repaired += 1;
    const last = oids.at(-1);
    if (last === undefined || oids.length < PAGE_SIZE) break;
    after = last;
  }
  return result;
}

/**
 * Ids of payments that may disagree with their refunds, after `after`. Each branch starts from an
 * index: REFUNDING payments (few), REFUNDING refunds (few), refunds REFUNDED since `since`.
 */
async function paymentCandidates(ctx: RepairContext, after: string, since: Date): Promise<string[]> {
  const p = sqlTable(ctx.db.manager, PaymentOrder).path;
  const r = sqlTable(ctx.db.manager, RefundOrder).path;
  const refundedSum = `(SELECT COALESCE(SUM(x.amount), 0) FROM ${r} x WHERE x.payment_order_id = p.id AND x.status = 'REFUNDED')`;
  const rows = (await ctx.db.query(
    `SELECT id FROM (
       SELECT p.id FROM ${p} p
        WHERE p.pay_status = 'REFUNDING' AND p.id > ?
          AND EXISTS (SELECT 1 FROM ${r} x WHERE x.payment_order_id = p.id)
          AND NOT EXISTS (SELECT 1 FROM ${r} x WHERE x.payment_order_id = p.id AND x.status = 'REFUNDING')
       UNION
       SELECT p.id FROM ${r} r JOIN ${p} p ON p.id = r.payment_order_id
        WHERE r.status = 'REFUNDING' AND r.payment_order_id > ? AND p.pay_status IN ('PAY_SUCCESS', 'REFUND_FAILED', 'REFUNDED')
       UNION
       SELECT p.id FROM ${r} r JOIN ${p} p ON p.id = r.payment_order_id
        WHERE r.status = 'REFUNDED' AND r.updated_time >= ? AND r.payment_order_id > ?
          AND ((p.pay_status <> 'REFUNDED' AND p.refunded_amount >= p.amount) OR (p.pay_status = 'REFUNDED' AND p.refunded_amount < p.amount)
            OR p.refunded_amount <> ${refundedSum})
     ) c ORDER BY id LIMIT ?`,
    [BigInt(after), BigInt(after), since, BigInt(after), PAGE_SIZE],
  )) as { id: string | number }[];
  return rows.map((row) => String(row.id));
}

/** App orders still paid whose REFUNDED refunds, one of them ended since `since`, add up to their amount. */
async function androidCandidates(ctx: RepairContext, after: string, since: Date): Promise<string[]> {
  const a = sqlTable(ctx.db.manager, AndroidOrder).path;
  const r = sqlTable(ctx.db.manager, RefundOrder).path;
  const appRefunds = `x.payment_order_id IS NULL AND x.business_type = 'APP' AND x.status = 'REFUNDED'`;
  const rows = (await ctx.db.query(
    `SELECT a.oid FROM ${a} a
      WHERE a.status = ? AND a.oid > ?
        AND a.oid IN (SELECT x.out_trade_no FROM ${r} x WHERE ${appRefunds} AND x.updated_time >= ?)
        AND a.order_amount <= (SELECT COALESCE(SUM(x.amount), 0) FROM ${r} x WHERE x.out_trade_no = a.oid AND ${appRefunds})
      ORDER BY a.oid LIMIT ?`,
    [AndroidOrderStatus.PAID, after, since, PAGE_SIZE],
  )) as { oid: string }[];
  return rows.map((row) => row.oid);
}

type Refund = Pick<RefundOrder, 'id' | 'amount' | 'status' | 'updatedTime'>;

/** Ended refunds, the last to end last (ends within one second tie on updated_time: the later id is taken as later). */
function byEnd(refunds: readonly Refund[]): Refund[] {
  return refunds.filter((x) => x.status !== 'REFUNDING').sort((x, y) => x.updatedTime.getTime() - y.updatedTime.getTime() || Number(BigInt(x.id) - BigInt(y.id)));
}

/** What the apply path would have left: the last refund to end found the payment REFUNDING. */
export function expectedPayStatus(p: Pick<PaymentOrder, 'amount'>, refunds: readonly Refund[]): PayStatus | null {
  const refunded = refunds.filter((x) => x.status === 'REFUNDED').reduce((sum, x) => sum + x.amount, 0);
  const inFlight = refunds.filter((x) => x.status === 'REFUNDING').length;
  const ended = byEnd(refunds).at(-1);
  if (!ended) return inFlight > 0 ? 'REFUNDING' : null;
  return payStatusAfter({ payStatus: 'REFUNDING', amount: p.amount }, refunded, inFlight, ended.status === 'REFUNDED' ? 'REFUNDED' : 'REFUND_FAILED');
}

const PAID: readonly PayStatus[] = ['PAY_SUCCESS', 'REFUNDING', 'REFUND_FAILED', 'REFUNDED'];

/**
 * Only a disagreement the apply path can never leave is repaired. PAY_SUCCESS and REFUND_FAILED
 * are both settled states it writes (a late failure of an old refund leaves PAY_SUCCESS), so one is
 * never turned into the other here.
 */
function disagrees(current: PayStatus, expected: PayStatus): boolean {
  if (current === expected || !PAID.includes(current)) return false;
  return [current, expected].some((s) => s === 'REFUNDING' || s === 'REFUNDED');
}

async function repairPayment(ctx: RepairContext, id: string): Promise<'repaired' | 'amount-mismatch' | 'agrees'> {
  const alerts: Alerts = [];
  const outcome = await ctx.db.transaction(async (m): Promise<'repaired' | 'amount-mismatch' | 'agrees'> => {
    // The payment, then its refunds (locking reads: the latest committed state), as every refund path locks them.
    const p = await m.createQueryBuilder(PaymentOrder, 'p').setLock('pessimistic_write').where('p.id = :id', { id }).getOne();
    if (!p) return 'agrees';
    const refunds = await m
      .createQueryBuilder(RefundOrder, 'r')
      .setLock('pessimistic_read')
      .select(['r.id', 'r.outRefundNo', 'r.amount', 'r.status', 'r.updatedTime'])
      .where('r.payment_order_id = :id', { id })
      .getMany();
    const refunded = refunds.filter((x) => x.status === 'REFUNDED').reduce((sum, x) => sum + x.amount, 0);
    if (refunded !== p.refundedAmount) {
      if (await recordAmountMismatch(ctx, m, p, refunded)) {
        alerts.push(() =>
          raiseAlert(ctx, 'refunded-amount-mismatch', 'payment_order.refunded_amount differs from its REFUNDED refunds: left for ops', {
            outTradeNo: p.outTradeNo, paymentOrderId: p.id, refundedAmount: p.refundedAmount, refundsRefunded: refunded, payStatus: p.payStatus,
          }),
        );
      }
      return 'amount-mismatch';
    }
    const expected = expectedPayStatus(p, refunds);
    if (!expected || !disagrees(p.payStatus, expected)) return 'agrees';
    const inFlight = refunds.filter((x) => x.status === 'REFUNDING').length;
    const remark = `${REMARK} (${p.payStatus}, ${inFlight} in flight, ${refunded} of ${p.amount} fen refunded)`;
    await updatePayment(ctx, m, p, { payStatus: expected, addRefunded: 0 }, remark);
    const completing = byEnd(refunds).filter((x) => x.status === 'REFUNDED').at(-1);
    if (expected === 'REFUNDED' && completing) await refundBusinessOrders(ctx, m, p.id, completing.id, remark);
    alerts.push(() =>
      raiseAlert(ctx, 'refund-status-repaired', 'payment status disagreed with its refunds: repaired', {
        outTradeNo: p.outTradeNo, paymentOrderId: p.id, from: p.payStatus, to: expected, inFlight, refundedAmount: refunded, amount: p.amount,
      }),
    );
    return 'repaired';
  });
  for (const alert of alerts) await alert();
  return outcome;
}

/** One reconciliation item per payment and pair of amounts: true when this run found it first. */
async function recordAmountMismatch(ctx: RepairContext, m: EntityManager, p: PaymentOrder, refunded: number): Promise<boolean> {
  try {
    // InnoDB undoes only the failed statement on a duplicate key: the transaction goes on.
    await m.insert(HubReconciliationItem, {
      runId: null,
      source: 'SYNC',
      kind: 'REFUNDED_AMOUNT_MISMATCH',
      merchant: p.mchid,
      outTradeNo: p.outTradeNo,
      outRefundNo: null,
      transactionId: p.transactionId,
      localTable: 'payment_order',
      wechatAmount: String(refunded),
      localAmount: String(p.refundedAmount),
      wechatStatus: null,
      localStatus: p.payStatus,
      autoFix: null,
      dedupeKey: `refunded-amount-${p.id}-${p.refundedAmount}-${refunded}`,
      createdTime: ctx.now(),
    });
    return true;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    return false;
  }
}

async function repairAndroid(ctx: RepairContext, oid: string): Promise<boolean> {
  const alerts: Alerts = [];
  const repaired = await ctx.db.transaction(async (m) => {
    const android = await m.createQueryBuilder(AndroidOrder, 'a').setLock('pessimistic_write').where('a.oid = :oid', { oid }).getOne();
    if (!android || !(await refundAndroidIfFull(ctx, m, android, `${REMARK}: fully refunded, still paid`))) return false;
    alerts.push(() => raiseAlert(ctx, 'refund-status-repaired', 'app order fully refunded but still paid: repaired', { oid, from: android.status, to: AndroidOrderStatus.REFUNDED }));
    return true;
  });
  for (const alert of alerts) await alert();
  return repaired;
}
