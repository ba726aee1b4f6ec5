import type { EntityManager } from 'typeorm';
import { afterOwnCommit, type CallerTransaction } from '../caller-transaction';
import { AndroidOrder, AndroidOrderStatus } from '../../entities/app/android-order.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import type { EventOrder } from '../../entities/marketing/event-order.entity';
import { PaymentOrder, type PayStatus } from '../../entities/marketing/payment-order.entity';
import type { WechatPayTransaction } from '../../integrations/wechat-pay/wechat-pay.client';
import { raiseAlert } from '../messaging/alert-ops';
import { BusinessSource, OperationType } from '../../entities/dms/audit';
import type { JobContext } from '../context';
import type { AlertKind } from '../../lib/alerts';
import { isDuplicateKeyError } from '../../lib/errors';
import { exactKey } from '../../lib/exact-key';
import { parseRfc3339 } from '../../lib/time';
import { BUSINESS_TABLES } from './business-orders';

/**
 * The one place a WeChat payment state reaches our tables, whoever learned it (callback, query,
 * close). Forward-only: each change is a single-row UPDATE guarded by the old status, under a row
 * lock, so two runs applying the same state change it once, and a late or out-of-order state
 * never takes a paid order back.
 */

export type ApplySource = 'NOTIFICATION' | 'SYNC' | 'CLOSE';
export type ApplyContext = Pick<JobContext, 'db' | 'log' | 'audit' | 'now' | 'enqueue' | 'config'>;

export type ApplyOutcome =
  | 'paid'
  | 'failed'
  | 'processing'
  | 'unchanged'
  | 'amount-mismatch'
  | 'appid-mismatch'
  | 'unknown-order';

export interface ApplyResult {
  outcome: ApplyOutcome;
  outTradeNo: string;
  /** Where our side lives; absent for an unknown order. */
  table?: 'payment_order' | 'android_order';
  /** Our status before, as stored. */
  before?: string;
}

/** The payment was taken: SUCCESS, or REFUND (paid, then refunded in part or whole). */
const PAID_STATES = new Set(['SUCCESS', 'REFUND']);
/** The payment will never happen: closed (by us or by expiry), revoked, or a failed payment-code attempt. */
const FAILED_STATES = new Set(['CLOSED', 'REVOKED', 'PAYERROR']);

/** Statuses a payment may leave for PAY_SUCCESS: PAY_FAILED too, since WeChat took the money after all. */
const PAYABLE: readonly PayStatus[] = ['NONE', 'UNPAID', 'PAY_PROCESSING', 'PAY_FAILED'];
const FAILABLE: readonly PayStatus[] = ['NONE', 'UNPAID', 'PAY_PROCESSING'];
/** Business orders already past payment: a payment state never moves them back. */
const BUSINESS_SETTLED: readonly PayStatus[] = ['PAY_SUCCESS', 'REFUNDING', 'REFUNDED', 'REFUND_FAILED'];

interface PostCommit {
  alerts: (() => Promise<void>)[];
}

/** Applies `tx` to our order in one transaction (the caller's, when it passes `within`: its alerts then wait for the caller's commit). */
export async function applyWechatTransaction(
  ctx: ApplyContext,
  mchid: string,
  tx: WechatPayTransaction,
  source: ApplySource,
  options: { within?: CallerTransaction } = {},
): Promise<ApplyResult> {
  const post: PostCommit = { alerts: [] };
  const known = { ...tx, mchid: tx.mchid ?? mchid };
  const run = (m: EntityManager): Promise<ApplyResult> => applyIn(ctx, m, mchid, known, source, post);
  const result = options.within ? await run(options.within.manager) : await ctx.db.transaction(run);
  await afterOwnCommit(post.alerts, options.within);
  return result;
}

async function applyIn(ctx: ApplyContext, m: EntityManager, mchid: string, tx: WechatPayTransaction, source: ApplySource, post: PostCommit): Promise<ApplyResult> {
  const payment = await m
    .createQueryBuilder(PaymentOrder, 'p')
    .setLock('pessimistic_write')
    .where(exactKey('p.out_trade_no', 'no'), { no: tx.out_trade_no })
    .getOne();
  if (payment && payment.mchid === mchid) return applyToPayment(ctx, m, payment, tx, source, post);
  const android = payment ? null : await m.createQueryBuilder(AndroidOrder, 'a').setLock('pessimistic_write').where(exactKey('a.oid', 'no'), { no: tx.out_trade_no }).getOne();
  if (android) return applyToAndroid(ctx, m, android, tx, source, post);
  post.alerts.push(() =>
    raiseAlert(ctx, 'payment-unknown-order', 'WeChat Pay reported a payment we have no order for', {
      mchid,
      outTradeNo: tx.out_trade_no,
      transactionId: tx.transaction_id,
      tradeState: tx.trade_state,
      source,
      ...(payment ? { ourMchid: payment.mchid } : {}),
    }),
  );
  return { outcome: 'unknown-order', outTradeNo: tx.out_trade_no };
}

async function applyToPayment(
  ctx: ApplyContext,
  m: EntityManager,
  p: PaymentOrder,
  tx: WechatPayTransaction,
  source: ApplySource,
  post: PostCommit,
): Promise<ApplyResult> {
  const base = { outTradeNo: p.outTradeNo, table: 'payment_order' as const, before: p.payStatus };
  const now = ctx.now();
  const remark = `wechat pay ${source.toLowerCase()}: trade_state ${tx.trade_state}`;
  // A merchant may serve several apps: a state of an order made in another app is not this order's,
  // whatever it says. Orders that never recorded their appid cannot be told apart, and apply.
  if (tx.appid !== undefined && p.appid !== null && tx.appid !== p.appid) {
    await recordAppidMismatch(ctx, m, tx, source, post, p);
    return { ...base, outcome: 'appid-mismatch' };
  }
  if (PAID_STATES.has(tx.trade_state)) {
    if (!PAYABLE.includes(p.payStatus)) return { ...base, outcome: 'unchanged' };
    if (tx.amount?.total !== p.amount) {
      await recordMismatch(ctx, m, tx, source, post, { localTable: 'payment_order', localAmount: p.amount, localStatus: p.payStatus });
      return { ...base, outcome: 'amount-mismatch' };
    }
    const next = {
      payStatus: 'PAY_SUCCESS' as const,
      transactionId: tx.transaction_id ?? null,
      successTime: parseRfc3339(tx.success_time),
      payerTotal: tx.amount.payer_total ?? tx.amount.total,
      tradeState: tx.trade_state,
    };
    if (!(await guardedPaymentUpdate(m, p.id, PAYABLE, { ...next, updatedTime: now }))) return { ...base, outcome: 'unchanged' };
    if (p.payStatus === 'PAY_FAILED') {
      ctx.log.warn({ outTradeNo: p.outTradeNo, transactionId: tx.transaction_id, source }, 'payment closed here was paid at WeChat: applied as paid');
    }
    await ctx.audit(m, { businessNo: p.outTradeNo, source: BusinessSource.PAYMENT, operation: OperationType.UPDATE, oldValue: paymentView(p), newValue: { ...paymentView(p), ...next, successTime: tx.success_time ?? null }, remark });
    await moveBusinessOrders(ctx, m, p.id, 'PAY_SUCCESS', { WAITING_PAY: 'JOINED' }, remark);
    return { ...base, outcome: 'paid' };
  }
  if (FAILED_STATES.has(tx.trade_state)) {
    if (!FAILABLE.includes(p.payStatus)) return { ...base, outcome: 'unchanged' };
    const next = { payStatus: 'PAY_FAILED' as const, tradeState: tx.trade_state };
    if (!(await guardedPaymentUpdate(m, p.id, FAILABLE, { ...next, updatedTime: now }))) return { ...base, outcome: 'unchanged' };
    await ctx.audit(m, { businessNo: p.outTradeNo, source: BusinessSource.PAYMENT, operation: OperationType.UPDATE, oldValue: paymentView(p), newValue: { ...paymentView(p), ...next }, remark });
    await moveBusinessOrders(ctx, m, p.id, 'PAY_FAILED', { WAITING_PAY: 'CANCELLED' }, remark);
    return { ...base, outcome: 'failed' };
  }
  if (tx.trade_state === 'USERPAYING' && p.payStatus === 'UNPAID') {
    const next = { payStatus: 'PAY_PROCESSING' as const, tradeState: tx.trade_state };
    if (!(await guardedPaymentUpdate(m, p.id, ['UNPAID'], { ...next, updatedTime: now }))) return { ...base, outcome: 'unchanged' };
    await ctx.audit(m, { businessNo: p.outTradeNo, source: BusinessSource.PAYMENT, operation: OperationType.UPDATE, oldValue: paymentView(p), newValue: { ...paymentView(p), ...next }, remark });
    return { ...base, outcome: 'processing' };
  }
  return { ...base, outcome: 'unchanged' };
}

function paymentView(p: PaymentOrder): Record<string, unknown> {
  return { payStatus: p.payStatus, tradeState: p.tradeState, transactionId: p.transactionId, payerTotal: p.payerTotal, successTime: p.successTime };
}

async function guardedPaymentUpdate(m: EntityManager, id: string, from: readonly PayStatus[], set: Partial<PaymentOrder>): Promise<boolean> {
  const res = await m
    .createQueryBuilder()
    .update(PaymentOrder)
    .set(set)
    .where('id = :id AND pay_status IN (:...from)', { id, from })
    .execute();
  return (res.affected ?? 0) === 1;
}

/**
 * The business orders paid through payment `paymentId`: their payment status, and their status where
 * `statusMoves` names it (a cancelled order stays cancelled: ops decide what a late payment means).
 */
async function moveBusinessOrders(
  ctx: ApplyContext,
  m: EntityManager,
  paymentId: string,
  pamentStatus: PayStatus,
  statusMoves: Record<string, string>,
  remark: string,
): Promise<void> {
  const now = ctx.now();
  for (const { entity, source } of BUSINESS_TABLES) {
    const rows = await m
      .createQueryBuilder(entity, 'o')
      .setLock('pessimistic_write')
      .select(['o.id', 'o.pamentStatus', 'o.status'])
      .where('o.payment_order_id = :paymentId', { paymentId })
      .getMany();
    for (const row of rows) {
      if (row.pamentStatus !== null && BUSINESS_SETTLED.includes(row.pamentStatus)) continue;
      const status = row.status !== null ? (statusMoves[row.status] ?? row.status) : row.status;
      await m
        .createQueryBuilder()
        .update(entity)
        .set({ pamentStatus, status: status as EventOrder['status'], updatedTime: now })
        .where('id = :id', { id: row.id })
        .execute();
      await ctx.audit(m, {
        businessNo: row.id,
        source,
        operation: OperationType.UPDATE,
        oldValue: { pamentStatus: row.pamentStatus, status: row.status },
        newValue: { pamentStatus, status },
        remark,
      });
      if (pamentStatus === 'PAY_SUCCESS' && row.status === 'CANCELLED') {
        ctx.log.warn({ table: m.getRepository(entity).metadata.tableName, id: row.id, paymentId }, 'cancelled business order was paid: left cancelled for ops');
      }
    }
  }
}

async function applyToAndroid(
  ctx: ApplyContext,
  m: EntityManager,
  a: AndroidOrder,
  tx: WechatPayTransaction,
  source: ApplySource,
  post: PostCommit,
): Promise<ApplyResult> {
  const base = { outTradeNo: a.oid, table: 'android_order' as const, before: String(a.status) };
  const now = ctx.now();
  const remark = `wechat pay ${source.toLowerCase()}: trade_state ${tx.trade_state}`;
  const view = (): Record<string, unknown> => ({ status: a.status, tid: a.tid, payTime: a.payTime, paymentAmount: a.paymentAmount });
  if (PAID_STATES.has(tx.trade_state)) {
    const payable: number[] = [AndroidOrderStatus.UNPAID, AndroidOrderStatus.FAILED];
    if (!payable.includes(a.status)) return { ...base, outcome: 'unchanged' };
    if (tx.amount?.total !== a.orderAmount) {
      await recordMismatch(ctx, m, tx, source, post, { localTable: 'android_order', localAmount: a.orderAmount, localStatus: String(a.status) });
      return { ...base, outcome: 'amount-mismatch' };
    }
    const next = {
      status: AndroidOrderStatus.PAID,
      tid: tx.transaction_id ?? null,
      payTime: parseRfc3339(tx.success_time),
      paymentAmount: tx.amount.payer_total ?? tx.amount.total,
      platformOrderAmount: tx.amount.total,
      tradeType: tx.trade_type ?? null,
      bankType: tx.bank_type ?? null,
      openId: tx.payer?.openid ?? null,
    };
    const res = await m
      .createQueryBuilder()
      .update(AndroidOrder)
      .set({ ...next, updatedAt: now })
      .where('oid = :oid AND status IN (:...payable)', { oid: a.oid, payable })
      .execute();
    if ((res.affected ?? 0) !== 1) return { ...base, outcome: 'unchanged' };
    if (a.status === AndroidOrderStatus.FAILED) ctx.log.warn({ oid: a.oid, transactionId: tx.transaction_id, source }, 'failed android order was paid at WeChat: applied as paid');
    await ctx.audit(m, { businessNo: a.oid, source: BusinessSource.APP_ORDER, operation: OperationType.UPDATE, oldValue: view(), newValue: { ...view(), status: next.status, tid: next.tid, payTime: tx.success_time ?? null, paymentAmount: next.paymentAmount }, remark });
    return { ...base, outcome: 'paid' };
  }
  if (FAILED_STATES.has(tx.trade_state) && a.status === AndroidOrderStatus.UNPAID) {
    const res = await m
      .createQueryBuilder()
      .update(AndroidOrder)
      .set({ status: AndroidOrderStatus.FAILED, updatedAt: now })
      .where('oid = :oid AND status = :from', { oid: a.oid, from: AndroidOrderStatus.UNPAID })
      .execute();
    if ((res.affected ?? 0) !== 1) return { ...base, outcome: 'unchanged' };
    await ctx.audit(m, { businessNo: a.oid, source: BusinessSource.APP_ORDER, operation: OperationType.UPDATE, oldValue: view(), newValue: { ...view(), status: AndroidOrderStatus.FAILED }, remark });
    return { ...base, outcome: 'failed' };
  }
  return { ...base, outcome: 'unchanged' };
}

type ItemSides = Pick<HubReconciliationItem, 'kind' | 'localTable' | 'wechatAmount' | 'localAmount' | 'wechatStatus' | 'localStatus'>;

/** What the first sighting of a discrepancy tells ops, beside the order's ids and the source. */
interface DiscrepancyAlert {
  readonly kind: AlertKind;
  readonly message: string;
  readonly details: Record<string, unknown>;
}

/**
 * A discrepancy that is never applied becomes one reconciliation item however often WeChat repeats
 * it (its key names the kind and the transaction), and an alert after commit the first time.
 */
async function recordDiscrepancy(ctx: ApplyContext, m: EntityManager, tx: WechatPayTransaction, source: ApplySource, post: PostCommit, sides: ItemSides, alert: DiscrepancyAlert): Promise<void> {
  const dedupeKey = `notify-${sides.kind === 'APPID_MISMATCH' ? 'appid' : 'amount'}-${tx.out_trade_no}-${tx.transaction_id ?? 'none'}`;
  try {
    // InnoDB undoes only the failed statement on a duplicate key: the caller's transaction goes on.
    await m.insert(HubReconciliationItem, {
      ...sides,
      runId: null,
      source: source === 'NOTIFICATION' ? 'NOTIFICATION' : 'SYNC',
      merchant: tx.mchid ?? null,
      outTradeNo: tx.out_trade_no,
      outRefundNo: null,
      transactionId: tx.transaction_id ?? null,
      autoFix: null,
      dedupeKey,
      createdTime: ctx.now(),
    });
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    ctx.log.warn({ outTradeNo: tx.out_trade_no, dedupeKey, kind: sides.kind }, 'payment discrepancy seen again: already recorded');
    return;
  }
  post.alerts.push(() => raiseAlert(ctx, alert.kind, alert.message, { outTradeNo: tx.out_trade_no, transactionId: tx.transaction_id, ...alert.details, source }));
}

const wechatTotal = (tx: WechatPayTransaction): string | null => (tx.amount?.total === undefined ? null : String(tx.amount.total));

/** The appid WeChat reports differs from the order's: the item holds both appids. */
function recordAppidMismatch(ctx: ApplyContext, m: EntityManager, tx: WechatPayTransaction, source: ApplySource, post: PostCommit, p: PaymentOrder): Promise<void> {
  // The status columns (32 characters) carry the two appids on this kind.
  const sides: ItemSides = { kind: 'APPID_MISMATCH', localTable: 'payment_order', wechatAmount: wechatTotal(tx), localAmount: String(p.amount), wechatStatus: (tx.appid ?? '').slice(0, 32), localStatus: p.appid };
  return recordDiscrepancy(ctx, m, tx, source, post, sides, {
    kind: 'payment-appid-mismatch',
    message: 'WeChat Pay reported a payment of another app than our order: not applied',
    details: { wechatAppid: tx.appid, localAppid: p.appid, tradeState: tx.trade_state },
  });
}

/** An amount that differs from ours is never applied. */
function recordMismatch(
  ctx: ApplyContext,
  m: EntityManager,
  tx: WechatPayTransaction,
  source: ApplySource,
  post: PostCommit,
  local: { localTable: string; localAmount: number; localStatus: string },
): Promise<void> {
  const sides: ItemSides = { kind: 'AMOUNT_MISMATCH', ...local, wechatAmount: wechatTotal(tx), localAmount: String(local.localAmount), wechatStatus: tx.trade_state };
  return recordDiscrepancy(ctx, m, tx, source, post, sides, {
    kind: 'payment-amount-mismatch',
    message: 'WeChat Pay amount differs from our order: not applied',
    details: { wechatAmount: tx.amount?.total, localAmount: local.localAmount, localTable: local.localTable },
  });
}
