import type { EntityManager } from 'typeorm';
import { afterOwnCommit, type CallerTransaction } from '../caller-transaction';
import { AndroidOrder, AndroidOrderStatus } from '../../entities/app/android-order.entity';
import { PaymentOrder, type PayStatus } from '../../entities/marketing/payment-order.entity';
import { RefundOrder, type RefundWechatStatus } from '../../entities/marketing/refund-order.entity';
import type { RefundStatus, WechatPayRefund, WechatPayRefundNotice } from '../../integrations/wechat-pay/wechat-pay.client';
import { raiseAlert } from '../messaging/alert-ops';
import { BusinessSource, OperationType } from '../../entities/dms/audit';
import type { JobContext } from '../context';
import { exactKey } from '../../lib/exact-key';
import { parseRfc3339 } from '../../lib/time';
import { BUSINESS_TABLES } from './business-orders';

/**
 * The one place a refund's state reaches our tables, whoever learned it (the create answer, a
 * query, a REFUND.* callback, a refusal of the create call). Forward-only: the refund row moves
 * up a rank or not at all, under row locks taken in the order every refund path uses (payment,
 * then refund), so the money side (`refunded_amount`) changes exactly once per refund whatever
 * arrives twice, late or out of order. Every change and its audit rows commit together.
 *
 * Every decision that depends on other rows (refunds still in flight, what an app order has had
 * back) is a locking read taken after the payment's lock: a plain read would answer from the
 * REPEATABLE READ snapshot, which the first plain read opens (here the peek, or the caller's
 * reads), before the refunds that committed while this one waited for the lock. Applied at once,
 * 48 refunds of one payment once left it REFUNDING for good that way.
 */

export type RefundApplySource = 'SUBMIT' | 'SYNC' | 'NOTIFICATION';
export type RefundApplyContext = Pick<JobContext, 'db' | 'log' | 'audit' | 'now' | 'enqueue' | 'config'>;

/** A refund's state as every WeChat answer (create, query, callback) carries it; amounts in fen. */
export interface RefundState {
  out_refund_no: string;
  refund_id?: string;
  status: RefundStatus;
  success_time?: string;
  user_received_account?: string;
  amount?: { refund?: number; total?: number };
}

export type RefundApplyOutcome = 'refunded' | 'failed' | 'processing' | 'unchanged' | 'unknown-refund' | 'refund-amount-mismatch';

export interface RefundApplyResult {
  outcome: RefundApplyOutcome;
  outRefundNo: string;
  /** The row's `status/wechat_status` before, as stored; absent for an unknown refund. */
  before?: string;
}

export const refundStateOf = (r: WechatPayRefund): RefundState => ({
  out_refund_no: r.out_refund_no,
  refund_id: r.refund_id,
  status: r.status,
  success_time: r.success_time,
  user_received_account: r.user_received_account,
  amount: { refund: r.amount.refund, total: r.amount.total },
});

export const refundStateOfNotice = (n: WechatPayRefundNotice): RefundState => ({
  out_refund_no: n.out_refund_no,
  refund_id: n.refund_id,
  status: n.refund_status,
  success_time: n.success_time,
  user_received_account: n.user_received_account,
  amount: { refund: n.amount?.refund, total: n.amount?.total },
});

export const CLOSED_REASON = 'closed at WeChat';
export const ABNORMAL_REASON = "ABNORMAL: the payer's account could not take the refund; apply an abnormal refund (to a bank card) or refund offline";

/**
 * Ranks: a row only ever moves to a higher one. ABNORMAL is not final at WeChat (the abnormal-refund
 * API or WeChat itself may still pay it out), so a REFUND_FAILED row that was ABNORMAL still takes
 * SUCCESS or CLOSED; every other failure and REFUNDED are final.
 */
function rowRank(r: Pick<RefundOrder, 'status' | 'wechatStatus'>): number {
  if (r.status === 'REFUNDING') return r.wechatStatus === 'PROCESSING' ? 2 : 1;
  if (r.status === 'REFUND_FAILED' && r.wechatStatus === 'ABNORMAL') return 3;
  return 4;
}

/** A row whose money may still go out: counted against what remains refundable. */
export function refundMayPayOut(r: Pick<RefundOrder, 'status' | 'wechatStatus'>): boolean {
  return r.status !== 'REFUND_FAILED' || r.wechatStatus === 'ABNORMAL';
}

type Move =
  | { kind: 'processing'; rank: 2 }
  | { kind: 'failed'; rank: 3 | 4; wechatStatus: RefundWechatStatus | null; failReason: string }
  | { kind: 'refunded'; rank: 4 };

function moveFor(status: RefundStatus): Move {
  if (status === 'SUCCESS') return { kind: 'refunded', rank: 4 };
  if (status === 'PROCESSING') return { kind: 'processing', rank: 2 };
  if (status === 'ABNORMAL') return { kind: 'failed', rank: 3, wechatStatus: 'ABNORMAL', failReason: ABNORMAL_REASON };
  return { kind: 'failed', rank: 4, wechatStatus: 'CLOSED', failReason: CLOSED_REASON };
}

interface Locked {
  refund: RefundOrder;
  payment: PaymentOrder | null;
  android: AndroidOrder | null;
}

type Alerts = (() => Promise<void>)[];

/** Applies `state` in one transaction (the caller's, when it passes `within`: its alerts then wait for the caller's commit). */
export async function applyWechatRefund(
  ctx: RefundApplyContext,
  mchid: string,
  state: RefundState,
  source: RefundApplySource,
  options: { within?: CallerTransaction } = {},
): Promise<RefundApplyResult> {
  const alerts: Alerts = [];
  const run = async (m: EntityManager): Promise<RefundApplyResult> => {
    const locked = await lockRefund(m, state.out_refund_no);
    if (!locked || (locked.payment && locked.payment.mchid !== mchid)) {
      alerts.push(() =>
        raiseAlert(ctx, 'refund-unknown', 'WeChat Pay reported a refund we have no refund_order for', {
          mchid, outRefundNo: state.out_refund_no, refundId: state.refund_id, status: state.status, source, ...(locked?.payment ? { ourMchid: locked.payment.mchid } : {}),
        }),
      );
      return { outcome: 'unknown-refund', outRefundNo: state.out_refund_no };
    }
    const { refund } = locked;
    const given = state.amount?.refund;
    if (given !== undefined && given !== refund.amount) {
      alerts.push(() =>
        raiseAlert(ctx, 'refund-amount-mismatch', 'WeChat Pay refund amount differs from our refund_order: not applied', {
          outRefundNo: refund.outRefundNo, wechatAmount: given, localAmount: refund.amount, status: state.status, source,
        }),
      );
      return { outcome: 'refund-amount-mismatch', outRefundNo: refund.outRefundNo, before: describe(refund) };
    }
    return moveRefund(ctx, m, locked, moveFor(state.status), state, `wechat pay refund ${source.toLowerCase()}: status ${state.status}`, alerts);
  };
  const result = options.within ? await run(options.within.manager) : await ctx.db.transaction(run);
  await afterOwnCommit(alerts, options.within);
  return result;
}

/**
 * The create call was refused for good (a vendor "never" code, an unknown merchant): the refund ends
 * REFUND_FAILED with the code as its reason. Only a row WeChat never accepted moves: one it answered
 * is followed by its own states.
 */
export async function markRefundFailed(ctx: RefundApplyContext, outRefundNo: string, reason: string): Promise<RefundApplyResult> {
  const alerts: Alerts = [];
  const result = await ctx.db.transaction(async (m) => {
    const locked = await lockRefund(m, outRefundNo);
    if (!locked) return { outcome: 'unknown-refund' as const, outRefundNo };
    if (rowRank(locked.refund) !== 1) return { outcome: 'unchanged' as const, outRefundNo, before: describe(locked.refund) };
    const move: Move = { kind: 'failed', rank: 4, wechatStatus: null, failReason: reason.slice(0, 255) };
    return moveRefund(ctx, m, locked, move, { out_refund_no: outRefundNo, status: 'CLOSED' }, 'wechat pay refund submit: refused', alerts);
  });
  for (const alert of alerts) await alert();
  return result;
}

async function lockRefund(m: EntityManager, outRefundNo: string): Promise<Locked | null> {
  // A plain read (it opens the snapshot) of columns that never change; the rows are read again locked.
  const peek = await m
    .createQueryBuilder(RefundOrder, 'r')
    .select(['r.id', 'r.paymentOrderId', 'r.outTradeNo', 'r.businessType'])
    .where(exactKey('r.out_refund_no', 'outRefundNo'), { outRefundNo })
    .getOne();
  if (!peek) return null;
  // The payment first, as requestRefund locks it: one lock order on every refund path, so no deadlock.
  const payment = peek.paymentOrderId
    ? await m.createQueryBuilder(PaymentOrder, 'p').setLock('pessimistic_write').where('p.id = :id', { id: peek.paymentOrderId }).getOne()
    : null;
  const android = !peek.paymentOrderId
    ? await m.createQueryBuilder(AndroidOrder, 'a').setLock('pessimistic_write').where('a.oid = :oid', { oid: peek.outTradeNo }).getOne()
    : null;
  const refund = await m.createQueryBuilder(RefundOrder, 'r').setLock('pessimistic_write').where('r.id = :id', { id: peek.id }).getOneOrFail();
  return { refund, payment, android };
}

const describe = (r: Pick<RefundOrder, 'status' | 'wechatStatus'>): string => `${r.status}/${r.wechatStatus ?? 'NULL'}`;

function refundView(r: RefundOrder): Record<string, unknown> {
  return { status: r.status, wechatStatus: r.wechatStatus, refundId: r.refundId, successTime: r.successTime, userReceivedAccount: r.userReceivedAccount, failReason: r.failReason };
}

async function moveRefund(
  ctx: RefundApplyContext,
  m: EntityManager,
  locked: Locked,
  move: Move,
  state: RefundState,
  remark: string,
  alerts: Alerts,
): Promise<RefundApplyResult> {
  const { refund } = locked;
  const base = { outRefundNo: refund.outRefundNo, before: describe(refund) };
  if (move.rank <= rowRank(refund)) return { ...base, outcome: 'unchanged' };
  const now = ctx.now();
  const refundId = state.refund_id ?? refund.refundId;
  const next: Partial<RefundOrder> =
    move.kind === 'processing'
      ? { wechatStatus: 'PROCESSING', refundId }
      : move.kind === 'refunded'
        ? { status: 'REFUNDED', wechatStatus: 'SUCCESS', refundId, successTime: parseRfc3339(state.success_time) ?? now, userReceivedAccount: state.user_received_account ?? null, failReason: null }
        : { status: 'REFUND_FAILED', wechatStatus: move.wechatStatus, refundId, failReason: move.failReason };
  // Guarded by the old state as well as locked: the money below moves only with this one UPDATE.
  const res = await m
    .createQueryBuilder()
    .update(RefundOrder)
    .set({ ...next, updatedTime: now })
    .where('id = :id AND status = :status AND wechat_status <=> :wechatStatus', { id: refund.id, status: refund.status, wechatStatus: refund.wechatStatus })
    .execute();
  if ((res.affected ?? 0) !== 1) return { ...base, outcome: 'unchanged' };
  await ctx.audit(m, { businessNo: refund.outRefundNo, source: BusinessSource.REFUND, operation: OperationType.UPDATE, oldValue: refundView(refund), newValue: { ...refundView(refund), ...next }, remark });
  if (move.kind === 'processing') return { ...base, outcome: 'processing' };
  if (move.kind === 'refunded') {
    await refundedEffects(ctx, m, locked, remark);
    return { ...base, outcome: 'refunded' };
  }
  await failedEffects(ctx, m, locked, remark);
  const details = { outRefundNo: refund.outRefundNo, outTradeNo: refund.outTradeNo, amount: refund.amount, reason: move.failReason, refundId };
  alerts.push(() =>
    move.wechatStatus === 'ABNORMAL'
      ? raiseAlert(ctx, 'refund-abnormal', 'WeChat Pay refund ABNORMAL: needs an abnormal refund or an offline refund', details)
      : raiseAlert(ctx, 'refund-failed', 'WeChat Pay refund failed', details),
  );
  return { ...base, outcome: 'failed' };
}

/**
 * Refunds of the same payment still waiting for WeChat, besides this one: a locking read, so it
 * sees every refund committed before the payment's lock came to us, whenever the snapshot opened.
 * Shared locks only: every writer of these rows holds the payment's lock, which we hold.
 */
async function othersRefunding(m: EntityManager, refund: RefundOrder): Promise<number> {
  const where = refund.paymentOrderId ? 'r.payment_order_id = :key' : "r.out_trade_no = :key AND r.payment_order_id IS NULL AND r.business_type = 'APP'";
  return m
    .createQueryBuilder(RefundOrder, 'r')
    .setLock('pessimistic_read')
    .where(`${where} AND r.id <> :id AND r.status = 'REFUNDING'`, { key: refund.paymentOrderId ?? refund.outTradeNo, id: refund.id })
    .getCount();
}

/**
 * A payment's status once one of its refunds has ended (`ended`), from what it has had back in all
 * (`refundedAmount`, this refund included) and how many of its refunds are still in flight: the one
 * rule the apply path writes and the refund sync's repair recomputes. A failure moves only a
 * REFUNDING payment: an older refund failing late does not undo a settled one.
 */
export function payStatusAfter(p: Pick<PaymentOrder, 'payStatus' | 'amount'>, refundedAmount: number, inFlight: number, ended: 'REFUNDED' | 'REFUND_FAILED'): PayStatus {
  if (ended === 'REFUND_FAILED' && p.payStatus !== 'REFUNDING') return p.payStatus;
  if (refundedAmount >= p.amount) return 'REFUNDED';
  if (inFlight > 0) return 'REFUNDING';
  return ended === 'REFUNDED' ? 'PAY_SUCCESS' : 'REFUND_FAILED';
}

/** The payment's new status and refunded amount, with its audit row; `p` as locked. */
export async function updatePayment(ctx: RefundApplyContext, m: EntityManager, p: PaymentOrder, set: { payStatus: PayStatus; addRefunded: number }, remark: string): Promise<void> {
  if (set.payStatus === p.payStatus && set.addRefunded === 0) return;
  const refundedAmount = p.refundedAmount + set.addRefunded;
  await m
    .createQueryBuilder()
    .update(PaymentOrder)
    .set({ payStatus: set.payStatus, refundedAmount: () => 'refunded_amount + :add', updatedTime: ctx.now() })
    .where('id = :id', { id: p.id })
    .setParameter('add', set.addRefunded)
    .execute();
  await ctx.audit(m, {
    businessNo: p.outTradeNo,
    source: BusinessSource.PAYMENT,
    operation: OperationType.UPDATE,
    oldValue: { payStatus: p.payStatus, refundedAmount: p.refundedAmount },
    newValue: { payStatus: set.payStatus, refundedAmount },
    remark,
  });
}

async function refundedEffects(ctx: RefundApplyContext, m: EntityManager, { refund, payment, android }: Locked, remark: string): Promise<void> {
  if (payment) {
    const refunded = payment.refundedAmount + refund.amount;
    const full = refunded >= payment.amount;
    const payStatus = payStatusAfter(payment, refunded, full ? 0 : await othersRefunding(m, refund), 'REFUNDED');
    await updatePayment(ctx, m, payment, { payStatus, addRefunded: refund.amount }, remark);
    if (full) await refundBusinessOrders(ctx, m, payment.id, refund.id, remark);
    return;
  }
  if (android) await refundAndroidIfFull(ctx, m, android, remark);
}

/** A paid app order (locked) whose REFUNDED refunds add up to its amount: REFUNDED, with its audit row. */
export async function refundAndroidIfFull(ctx: RefundApplyContext, m: EntityManager, android: AndroidOrder, remark: string): Promise<boolean> {
  if (android.status !== AndroidOrderStatus.PAID) return false;
  // android_order keeps no refunded amount: the REFUNDED refunds of its oid say how much went back
  // (a locking read, as othersRefunding: the refunds that ended while we waited count too).
  const sum = await m
    .createQueryBuilder(RefundOrder, 'r')
    .setLock('pessimistic_read')
    .select('COALESCE(SUM(r.amount), 0)', 'total')
    .where("r.out_trade_no = :oid AND r.payment_order_id IS NULL AND r.business_type = 'APP' AND r.status = 'REFUNDED'", { oid: android.oid })
    .getRawOne<{ total: string | number }>();
  if (Number(sum?.total ?? 0) < android.orderAmount) return false;
  await m
    .createQueryBuilder()
    .update(AndroidOrder)
    .set({ status: AndroidOrderStatus.REFUNDED, updatedAt: ctx.now() })
    .where('oid = :oid AND status = :paid', { oid: android.oid, paid: AndroidOrderStatus.PAID })
    .execute();
  await ctx.audit(m, { businessNo: android.oid, source: BusinessSource.APP_ORDER, operation: OperationType.UPDATE, oldValue: { status: android.status }, newValue: { status: AndroidOrderStatus.REFUNDED }, remark });
  return true;
}

async function failedEffects(ctx: RefundApplyContext, m: EntityManager, { refund, payment }: Locked, remark: string): Promise<void> {
  // The payment says REFUND_FAILED only once nothing else of it is still on its way.
  if (!payment || payment.payStatus !== 'REFUNDING') return;
  const payStatus = payStatusAfter(payment, payment.refundedAmount, await othersRefunding(m, refund), 'REFUND_FAILED');
  await updatePayment(ctx, m, payment, { payStatus, addRefunded: 0 }, remark);
}

/** A fully refunded payment's business orders: REFUNDED, pointing at the refund that completed it. */
export async function refundBusinessOrders(ctx: RefundApplyContext, m: EntityManager, paymentId: string, refundId: string, remark: string): Promise<void> {
  for (const { entity, source } of BUSINESS_TABLES) {
    const rows = await m
      .createQueryBuilder(entity, 'o')
      .setLock('pessimistic_write')
      .select(['o.id', 'o.pamentStatus', 'o.status', 'o.refundOrderId'])
      .where('o.payment_order_id = :paymentId', { paymentId })
      .getMany();
    for (const row of rows) {
      if (row.pamentStatus === 'REFUNDED' && row.status === 'REFUNDED') continue;
      const next = { pamentStatus: 'REFUNDED' as const, status: 'REFUNDED' as const, refundOrderId: refundId };
      await m.createQueryBuilder().update(entity).set({ ...next, updatedTime: ctx.now() }).where('id = :id', { id: row.id }).execute();
      await ctx.audit(m, {
        businessNo: row.id,
        source,
        operation: OperationType.UPDATE,
        oldValue: { pamentStatus: row.pamentStatus, status: row.status, refundOrderId: row.refundOrderId },
        newValue: next,
        remark,
      });
    }
  }
}
