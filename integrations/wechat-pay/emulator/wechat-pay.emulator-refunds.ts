import type { CallbackDispatcher } from './wechat-pay.emulator-callbacks';
import { refundedOf, refundJson, rfc3339Beijing, VendorError } from './wechat-pay.emulator-state';
import type { EmulatedMerchant, EmulatedOrder, EmulatedRefund, EmulatorState } from './wechat-pay.emulator-state';

/**
 * WeChat's refund desk in the emulator: `POST /v3/refund/domestic/refunds` with WeChat's rules, the
 * refund query, PROCESSING that ends later with a configurable outcome, REFUND.* callbacks, merchant
 * balances (NOT_ENOUGH) and the ledger of money refunded. No HTTP here: answers are JSON or VendorError.
 */

export type RefundOutcome = 'SUCCESS' | 'CLOSED' | 'ABNORMAL';

/** WeChat keeps at most 50 refunds per order and refunds payments for one year. */
const MAX_REFUNDS_PER_ORDER = 50;
const OUT_REFUND_NO = /^[0-9A-Za-z_\-|*@]{1,64}$/;

const EVENTS: Record<RefundOutcome, { eventType: string; summary: string }> = {
  SUCCESS: { eventType: 'REFUND.SUCCESS', summary: '退款成功' },
  CLOSED: { eventType: 'REFUND.CLOSED', summary: '退款关闭' },
  ABNORMAL: { eventType: 'REFUND.ABNORMAL', summary: '退款异常' },
};

interface RefundBody {
  out_trade_no?: string;
  transaction_id?: string;
  out_refund_no: string;
  reason?: string;
  notify_url?: string;
  amount: { refund: number; total: number };
}

interface QueuedOutcome {
  status: RefundOutcome;
  outRefundNo?: string;
  remaining: number;
}

export class RefundDesk {
  /** Create requests received, duplicates and failures included. */
  calls = 0;
  /** Balances in fen by mchid; absent = unlimited. */
  private readonly balances = new Map<string, number>();
  private readonly outcomes: QueuedOutcome[] = [];
  /** Refunds made through the API (their callbacks never fall back to the payment's notify_url). */
  private readonly viaApi = new WeakSet<EmulatedRefund>();
  private readonly pending = new Map<EmulatedRefund, { timer: NodeJS.Timeout; outcome: RefundOutcome; order: EmulatedOrder }>();
  private waiters: (() => void)[] = [];

  constructor(
    private readonly state: EmulatorState,
    private readonly callbacks: CallbackDispatcher,
    private readonly now: () => Date,
    private readonly processingMs: number,
  ) {}

  setBalance(mchid: string, fen: number | null): void {
    this.state.merchant(mchid);
    if (fen === null) this.balances.delete(mchid);
    else if (!Number.isSafeInteger(fen) || fen < 0) throw new Error(`emulator: bad balance ${fen}`);
    else this.balances.set(mchid, fen);
  }

  /** Without `outRefundNo`, the next `times` (default 1) new refunds; with it, that refund whenever it is created. */
  setOutcome(status: RefundOutcome, o: { outRefundNo?: string; times?: number } = {}): void {
    this.outcomes.push({ status, outRefundNo: o.outRefundNo, remaining: o.times ?? 1 });
  }

  find(outRefundNo: string, mchid?: string): EmulatedRefund | undefined {
    if (mchid) return this.state.refunds.get(`${mchid}/${outRefundNo}`)?.refund;
    for (const { refund } of this.state.refunds.values()) if (refund.out_refund_no === outRefundNo) return refund;
    return undefined;
  }

  /** SUCCESS refunds only; each out_refund_no is stored once, so it counts once. */
  ledger(mchid?: string): { refunds: number; refundedFen: number; byOrder: ReadonlyMap<string, number> } {
    let refunds = 0;
    let refundedFen = 0;
    const byOrder = new Map<string, number>();
    for (const { order, refund } of this.state.refunds.values()) {
      if ((mchid && order.mchid !== mchid) || refund.status !== 'SUCCESS') continue;
      refunds += 1;
      refundedFen += refund.refund;
      byOrder.set(order.out_trade_no, (byOrder.get(order.out_trade_no) ?? 0) + refund.refund);
    }
    return { refunds, refundedFen, byOrder };
  }

  /** A refund recorded straight as SUCCESS (recordRefund) spends the balance like any other. */
  recorded(order: EmulatedOrder, refund: EmulatedRefund): void {
    this.spend(order.mchid, refund.refund);
  }

  /** `POST /v3/refund/domestic/refunds`: the answer body, or a VendorError in WeChat's words. */
  create(merchant: EmulatedMerchant, raw: Buffer): Record<string, unknown> {
    const body = parseBody(raw);
    const order = this.orderOf(merchant, body);
    const existing = this.state.refunds.get(`${merchant.mchid}/${body.out_refund_no}`);
    if (existing) {
      // 同一退款单号多次请求只退一笔: the same request answers the same refund; a changed one is refused.
      if (existing.order !== order || existing.refund.refund !== body.amount.refund || order.total !== body.amount.total) {
        throw new VendorError(400, 'INVALID_REQUEST', '同一退款单号的请求参数不一致');
      }
      return refundApiJson(order, existing.refund);
    }
    if (order.trade_state !== 'SUCCESS' && order.trade_state !== 'REFUND') throw new VendorError(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
    if (body.amount.total !== order.total) throw new VendorError(400, 'INVALID_REQUEST', '订单金额与原订单金额不一致');
    const paidAt = new Date(order.success_time ?? order.created);
    const lastDay = new Date(paidAt);
    lastDay.setUTCFullYear(lastDay.getUTCFullYear() + 1);
    if (this.now().getTime() > lastDay.getTime()) throw new VendorError(400, 'INVALID_REQUEST', '订单已超过可退款的最大期限（一年）');
    const live = order.refunds.filter((r) => r.status !== 'CLOSED' && r.status !== 'CLOSE');
    if (live.length >= MAX_REFUNDS_PER_ORDER) throw new VendorError(400, 'INVALID_REQUEST', `订单退款次数已达上限（${MAX_REFUNDS_PER_ORDER}次）`);
    if (refundedOf(order) + body.amount.refund > order.total) throw new VendorError(400, 'INVALID_REQUEST', '退款金额超过订单可退金额');
    if (body.amount.refund > this.available(merchant.mchid)) throw new VendorError(403, 'NOT_ENOUGH', '基本账户余额不足，请充值后重新发起');
    const refund = this.state.newRefund(order, {
      out_refund_no: body.out_refund_no,
      refund: body.amount.refund,
      status: 'PROCESSING',
      created: this.now(),
      notify_url: body.notify_url,
      reason: body.reason,
    });
    this.viaApi.add(refund);
    const outcome = this.takeOutcome(refund.out_refund_no);
    if (this.processingMs <= 0) this.finish(order, refund, outcome);
    else this.schedule(order, refund, outcome);
    return refundApiJson(order, refund);
  }

  /** `GET /v3/refund/domestic/refunds/{out_refund_no}`. */
  query(merchant: EmulatedMerchant, outRefundNo: string): Record<string, unknown> {
    const found = this.state.refunds.get(`${merchant.mchid}/${outRefundNo}`);
    if (!found) throw new VendorError(404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
    return refundApiJson(found.order, found.refund);
  }

  /** The REFUND.* callback of a refund's current (final) state, to its notify_url or the merchant's. */
  push(order: EmulatedOrder, refund: EmulatedRefund): Promise<void> {
    const status = refund.status === 'CLOSE' ? 'CLOSED' : refund.status;
    if (status === 'PROCESSING') return Promise.reject(new Error(`emulator: refund ${refund.out_refund_no} is still PROCESSING`));
    const merchant = this.state.merchant(order.mchid);
    const url = refund.notify_url ?? (this.viaApi.has(refund) ? undefined : order.notify_url) ?? merchant.notifyUrl;
    if (!url) return Promise.resolve();
    const { eventType, summary } = EVENTS[status];
    return this.callbacks.send({
      merchant,
      url,
      outTradeNo: order.out_trade_no,
      eventType,
      summary,
      originalType: 'refund',
      resource: refundJson(order, refund),
      createTime: rfc3339Beijing(this.now()),
    });
  }

  /** Resolves when no refund is still waiting to end. */
  settled(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  stop(): void {
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    this.wake();
  }

  private orderOf(merchant: EmulatedMerchant, body: RefundBody): EmulatedOrder {
    let order: EmulatedOrder | undefined;
    if (body.transaction_id !== undefined) {
      for (const o of this.state.orders.values()) if (o.mchid === merchant.mchid && o.transaction_id === body.transaction_id) order = o;
      if (order && body.out_trade_no !== undefined && order.out_trade_no !== body.out_trade_no) throw new VendorError(400, 'PARAM_ERROR', 'transaction_id 与 out_trade_no 不匹配');
    } else order = this.state.findOrder(body.out_trade_no ?? '', merchant.mchid);
    if (!order) throw new VendorError(404, 'RESOURCE_NOT_EXISTS', '订单不存在');
    return order;
  }

  /** What is left to refund: the balance less the refunds still PROCESSING (their money is held). */
  private available(mchid: string): number {
    const balance = this.balances.get(mchid);
    if (balance === undefined) return Number.MAX_SAFE_INTEGER;
    let held = 0;
    for (const [refund, p] of this.pending) if (p.order.mchid === mchid) held += refund.refund;
    return balance - held;
  }

  private spend(mchid: string, fen: number): void {
    const balance = this.balances.get(mchid);
    if (balance !== undefined) this.balances.set(mchid, Math.max(0, balance - fen));
  }

  private takeOutcome(outRefundNo: string): RefundOutcome {
    let index = this.outcomes.findIndex((o) => o.outRefundNo === outRefundNo);
    if (index < 0) index = this.outcomes.findIndex((o) => o.outRefundNo === undefined);
    const queued = this.outcomes[index];
    if (!queued) return 'SUCCESS';
    queued.remaining -= 1;
    if (queued.remaining <= 0 || queued.outRefundNo !== undefined) this.outcomes.splice(index, 1);
    return queued.status;
  }

  private schedule(order: EmulatedOrder, refund: EmulatedRefund, outcome: RefundOutcome): void {
    const timer = setTimeout(() => {
      this.pending.delete(refund);
      this.finish(order, refund, outcome);
      this.wake();
    }, this.processingMs);
    this.pending.set(refund, { timer, outcome, order });
  }

  private finish(order: EmulatedOrder, refund: EmulatedRefund, outcome: RefundOutcome): void {
    refund.status = outcome;
    if (outcome === 'SUCCESS') {
      refund.success_time = rfc3339Beijing(this.now());
      this.spend(order.mchid, refund.refund);
    }
    void this.push(order, refund);
  }

  private wake(): void {
    if (this.pending.size > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

/** The create request, checked as WeChat checks its format (PARAM_ERROR); business rules come later. */
function parseBody(raw: Buffer): RefundBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new VendorError(400, 'PARAM_ERROR', '请求体不是合法的 JSON');
  }
  const b = (parsed && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
  const amount = (b.amount && typeof b.amount === 'object' ? b.amount : {}) as Record<string, unknown>;
  const optionalText = (name: string, max: number): string | undefined => {
    const v = b[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new VendorError(400, 'PARAM_ERROR', `${name} 格式错误`);
    return v;
  };
  const out_trade_no = optionalText('out_trade_no', 32);
  const transaction_id = optionalText('transaction_id', 32);
  if (out_trade_no === undefined && transaction_id === undefined) throw new VendorError(400, 'PARAM_ERROR', 'transaction_id 和 out_trade_no 必须二选一');
  const out_refund_no = b.out_refund_no;
  if (typeof out_refund_no !== 'string' || !OUT_REFUND_NO.test(out_refund_no)) throw new VendorError(400, 'PARAM_ERROR', 'out_refund_no 格式错误');
  const notify_url = optionalText('notify_url', 256);
  if (notify_url !== undefined && !/^https?:\/\/[^?]+$/.test(notify_url)) throw new VendorError(400, 'PARAM_ERROR', 'notify_url 格式错误');
  const { refund, total, currency } = amount;
  if (!isFen(refund) || !isFen(total)) throw new VendorError(400, 'PARAM_ERROR', 'amount.refund 与 amount.total 必须为正整数（分）');
  if (currency !== 'CNY') throw new VendorError(400, 'PARAM_ERROR', 'amount.currency 必须为 CNY');
  return { out_trade_no, transaction_id, out_refund_no, reason: optionalText('reason', 80), notify_url, amount: { refund, total } };
}

function isFen(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

/** A refund as the create and query answers show it (`status`, not the callbacks' `refund_status`). */
export function refundApiJson(o: EmulatedOrder, r: EmulatedRefund): Record<string, unknown> {
  const payerTotal = o.payer_total ?? o.total;
  const payerRefund = r.payer_refund ?? r.refund;
  return {
    refund_id: r.refund_id,
    out_refund_no: r.out_refund_no,
    transaction_id: o.transaction_id,
    out_trade_no: o.out_trade_no,
    channel: 'ORIGINAL',
    user_received_account: '支付用户零钱',
    ...(r.success_time ? { success_time: r.success_time } : {}),
    create_time: rfc3339Beijing(r.created),
    status: r.status,
    funds_account: 'UNSETTLED',
    amount: {
      total: o.total,
      refund: r.refund,
      from: [],
      payer_total: payerTotal,
      payer_refund: payerRefund,
      settlement_refund: r.refund,
      settlement_total: o.total,
      discount_refund: r.refund - payerRefund,
      currency: 'CNY',
    },
    promotion_detail: [],
  };
}
