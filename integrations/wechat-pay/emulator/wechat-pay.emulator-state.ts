import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { RefundStatus, TradeState } from '../wechat-pay.client';
import { makeSelfSignedCertificate } from './wechat-pay.emulator-auth';

/**
 * What the WeChat Pay emulator remembers: merchants with their keys, orders and their refunds,
 * synthetic bill days and the queue of injected faults. No HTTP here.
 */

export type KeyMode = 'public_key' | 'certificate' | 'migrating';

export interface EmulatedRefund {
  out_refund_no: string;
  refund_id: string;
  refund: number;
  status: RefundStatus;
  success_time?: string;
  created: Date;
  /** What the payer gets back of `refund` on a discounted order (refund × payer_total / total); `refund` when absent. */
  payer_refund?: number;
  /** The create request's notify_url (REFUND.* callbacks go there rather than to the merchant's). */
  notify_url?: string;
  reason?: string;
}

export interface EmulatedOrder {
  mchid: string;
  appid: string;
  out_trade_no: string;
  description: string;
  total: number;
  trade_state: TradeState;
  transaction_id?: string;
  success_time?: string;
  payer_total?: number;
  time_expire?: Date;
  notify_url?: string;
  created: Date;
  refunds: EmulatedRefund[];
}

export type Fault =
  | { kind: 'http'; status: number; html?: boolean }
  | { kind: 'vendor'; status: number; code: string; message?: string }
  | { kind: 'rate-limit' }
  | { kind: 'timeout'; ms: number }
  | { kind: 'bad-signature' }
  | { kind: 'truncate-bill' }
  /** The request is carried out (a refund accepted and recorded), then the connection is destroyed unanswered. */
  | { kind: 'drop-after-commit' };

export type Route = 'query' | 'close' | 'tradebill' | 'download' | 'refund' | 'refund-query' | 'any';

/** An answer in WeChat's error envelope `{code, message}` with its HTTP status. */
export class VendorError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** One of WeChat's signing keys: a `PUB_KEY_ID_…` public key or a platform certificate. */
export interface PlatformKey {
  serial: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** DER of the self-signed X.509 certificate (certificate keys only). */
  certificateDer?: Buffer;
  notBefore: Date;
  notAfter: Date;
}

export interface EmulatedMerchant {
  mchid: string;
  appid: string;
  keyMode: KeyMode;
  notifyUrl?: string;
  billColumns: 24 | 27;
  serialNo: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  apiV3Key: string;
  publicKeyMode: PlatformKey;
  certificate: PlatformKey;
  /** Alternates the signing key in migrating mode. */
  signCount: number;
}

export interface SyntheticDay {
  date: string;
  count: number;
  prefix: string;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random letters and digits (nonces, the APIv3 key). */
export function randomAlnum(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALNUM[b % ALNUM.length];
  return out;
}

function rsaPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

/** 40 hex digits, the first one 1–7 so that the DER INTEGER needs no leading zero byte. */
function hexSerial(): string {
  const bytes = randomBytes(20);
  bytes[0] = 0x10 + ((bytes[0] ?? 0) % 0x70);
  return bytes.toString('hex').toUpperCase();
}

export function createMerchant(m: { mchid: string; appid: string; keyMode?: KeyMode; notifyUrl?: string; billColumns?: 24 | 27 }): EmulatedMerchant {
  const merchant = rsaPair();
  const pub = rsaPair();
  const cert = rsaPair();
  const notBefore = new Date(Date.now() - 24 * 3600_000);
  const notAfter = new Date(notBefore.getTime() + 5 * 365 * 24 * 3600_000);
  const certSerial = hexSerial();
  const digits = createHash('sha256').update(m.mchid).digest('hex').replace(/[a-f]/g, '').padEnd(30, '0').slice(0, 30);
  return {
    mchid: m.mchid,
    appid: m.appid,
    keyMode: m.keyMode ?? 'public_key',
    notifyUrl: m.notifyUrl,
    billColumns: m.billColumns ?? 27,
    serialNo: hexSerial(),
    privateKey: merchant.privateKey,
    publicKey: merchant.publicKey,
    apiV3Key: randomAlnum(32),
    publicKeyMode: { serial: `PUB_KEY_ID_01${digits}`, ...pub, notBefore, notAfter },
    certificate: {
      serial: certSerial,
      ...cert,
      notBefore,
      notAfter,
      certificateDer: makeSelfSignedCertificate({ serialHex: certSerial, commonName: `Tenpay.com Root CA ${m.mchid}`, key: cert, notBefore, notAfter }),
    },
    signCount: 0,
  };
}

/** The platform keys the merchant's mode makes live, in the order migrating mode alternates them. */
export function liveKeys(m: EmulatedMerchant): PlatformKey[] {
  if (m.keyMode === 'public_key') return [m.publicKeyMode];
  if (m.keyMode === 'certificate') return [m.certificate];
  return [m.publicKeyMode, m.certificate];
}

/** The key that signs the next response or callback; a serial the client advertises wins when it is live. */
export function signingKey(m: EmulatedMerchant, requested?: string): PlatformKey {
  const keys = liveKeys(m);
  const wanted = keys.find((k) => k.serial === requested);
  if (wanted) return wanted;
  const key = keys[m.signCount % keys.length] as PlatformKey;
  m.signCount += 1;
  return key;
}

interface QueuedFault {
  fault: Fault;
  route: Route;
  remaining: number;
}

export class EmulatorState {
  readonly merchants = new Map<string, EmulatedMerchant>();
  /** Orders by `${mchid}/${out_trade_no}`. */
  readonly orders = new Map<string, EmulatedOrder>();
  readonly synthetic = new Map<string, SyntheticDay[]>();
  readonly billStates = new Map<string, 'creating' | 'ready' | 'auto'>();
  /** Refunds by `${mchid}/${out_refund_no}`: a refund number is the merchant's, not one order's. */
  readonly refunds = new Map<string, { order: EmulatedOrder; refund: EmulatedRefund }>();
  private readonly faults: QueuedFault[] = [];
  private refundSeq = 0;
  private txSeq = 0;

  /** NOTPAY → SUCCESS with a fresh transaction_id (4200 + 24 digits). */
  markPaid(order: EmulatedOrder, at: Date, payerTotal: number | undefined): void {
    this.txSeq += 1;
    const day = rfc3339Beijing(at).slice(0, 10).replace(/-/g, '');
    order.trade_state = 'SUCCESS';
    order.transaction_id = `4200${day}${String(Date.now() % 1e8).padStart(8, '0')}${String(this.txSeq).padStart(8, '0')}`;
    order.success_time = rfc3339Beijing(at);
    order.payer_total = payerTotal ?? order.total;
  }

  /** A SUCCESS refund into the ledger; Σ refunds stays within the total. */
  addRefund(order: EmulatedOrder, outRefundNo: string, amount: number, at: Date): EmulatedRefund {
    if (!Number.isSafeInteger(amount) || amount <= 0 || refundedOf(order) + amount > order.total) throw new Error(`emulator: refund ${amount} exceeds what is left`);
    if (this.refunds.has(`${order.mchid}/${outRefundNo}`)) throw new Error(`emulator: refund ${outRefundNo} exists`);
    const refund = this.newRefund(order, { out_refund_no: outRefundNo, refund: amount, status: 'SUCCESS', created: at });
    refund.success_time = rfc3339Beijing(at);
    return refund;
  }

  /** Stores a refund under a fresh refund_id; the order turns REFUND as soon as a refund is initiated. */
  newRefund(order: EmulatedOrder, r: Omit<EmulatedRefund, 'refund_id' | 'payer_refund'>): EmulatedRefund {
    this.refundSeq += 1;
    const refund: EmulatedRefund = { ...r, refund_id: `50300${Date.now()}${String(this.refundSeq).padStart(11, '0')}`, payer_refund: payerRefundOf(order, r.refund) };
    order.refunds.push(refund);
    order.trade_state = 'REFUND';
    this.refunds.set(`${order.mchid}/${r.out_refund_no}`, { order, refund });
    return refund;
  }

  merchant(mchid: string): EmulatedMerchant {
    const m = this.merchants.get(mchid);
    if (!m) throw new Error(`emulator: unknown merchant ${mchid}`);
    return m;
  }

  /** Finds an order by out_trade_no, in one merchant or in the only one that has it. */
  findOrder(outTradeNo: string, mchid?: string): EmulatedOrder | undefined {
    if (mchid) return this.orders.get(`${mchid}/${outTradeNo}`);
    for (const o of this.orders.values()) if (o.out_trade_no === outTradeNo) return o;
    return undefined;
  }

  order(outTradeNo: string, mchid?: string): EmulatedOrder {
    const o = this.findOrder(outTradeNo, mchid);
    if (!o) throw new Error(`emulator: unknown order ${outTradeNo}`);
    return o;
  }

  addOrder(o: EmulatedOrder): void {
    const key = `${o.mchid}/${o.out_trade_no}`;
    if (this.orders.has(key)) throw new Error(`emulator: order ${o.out_trade_no} exists`);
    this.orders.set(key, o);
  }

  inject(fault: Fault, route: Route, times: number): void {
    this.faults.push({ fault, route, remaining: times });
  }

  /** The next fault for this route, used up as it is taken. `truncate-bill` only ever hits downloads. */
  takeFault(route: Exclude<Route, 'any'>): Fault | undefined {
    const index = this.faults.findIndex(
      (f) =>
        (f.route === route || f.route === 'any') &&
        (f.fault.kind !== 'truncate-bill' || route === 'download') &&
        (f.fault.kind !== 'drop-after-commit' || route !== 'download'),
    );
    if (index < 0) return undefined;
    const queued = this.faults[index] as QueuedFault;
    queued.remaining -= 1;
    if (queued.remaining <= 0) this.faults.splice(index, 1);
    return queued.fault;
  }
}

/** Money an order has given back or is giving back: every refund but the CLOSED ones (those returned nothing). */
export function refundedOf(order: EmulatedOrder): number {
  return order.refunds.reduce((sum, r) => (r.status === 'CLOSED' || r.status === 'CLOSE' ? sum : sum + r.refund), 0);
}

/**
 * The payer's share of a refund on a discounted order: refund × payer_total / total, rounded half up in
 * integers; the refund that completes the order gives back exactly what is left of payer_total.
 */
function payerRefundOf(order: EmulatedOrder, refund: number): number {
  const payerTotal = order.payer_total ?? order.total;
  if (payerTotal === order.total) return refund;
  const live = order.refunds.filter((r) => r.status !== 'CLOSED' && r.status !== 'CLOSE');
  const refunded = live.reduce((sum, r) => sum + r.refund, 0);
  if (refunded + refund === order.total) return payerTotal - live.reduce((sum, r) => sum + (r.payer_refund ?? r.refund), 0);
  return Number((BigInt(refund) * BigInt(payerTotal) * 2n + BigInt(order.total)) / (2n * BigInt(order.total)));
}

/** RFC 3339 in Beijing time, as WeChat writes success_time and create_time. */
export function rfc3339Beijing(at: Date): string {
  const iso = new Date(at.getTime() + 8 * 3600_000).toISOString();
  return `${iso.slice(0, 19)}+08:00`;
}

const TRADE_STATE_DESC: Record<TradeState, string> = {
  SUCCESS: '支付成功',
  REFUND: '转入退款',
  NOTPAY: '未支付',
  CLOSED: '已关闭',
  REVOKED: '已撤销',
  USERPAYING: '用户支付中',
  PAYERROR: '支付失败',
};

/** The order as the query API and TRANSACTION.* callbacks show it: payment fields only once paid. */
export function transactionJson(o: EmulatedOrder, openid: string): Record<string, unknown> {
  const paid = o.transaction_id !== undefined;
  return {
    appid: o.appid,
    mchid: o.mchid,
    out_trade_no: o.out_trade_no,
    ...(paid ? { transaction_id: o.transaction_id, trade_type: 'JSAPI', bank_type: 'OTHERS', success_time: o.success_time, payer: { openid } } : {}),
    trade_state: o.trade_state,
    trade_state_desc: TRADE_STATE_DESC[o.trade_state],
    attach: '',
    amount: paid
      ? { total: o.total, payer_total: o.payer_total ?? o.total, currency: 'CNY', payer_currency: 'CNY' }
      : { total: o.total, currency: 'CNY', payer_currency: 'CNY' },
  };
}

/** A refund as REFUND.* callbacks carry it: no appid, no trade_state. */
export function refundJson(o: EmulatedOrder, r: EmulatedRefund): Record<string, unknown> {
  return {
    mchid: o.mchid,
    transaction_id: o.transaction_id,
    out_trade_no: o.out_trade_no,
    refund_id: r.refund_id,
    out_refund_no: r.out_refund_no,
    refund_status: r.status,
    ...(r.success_time ? { success_time: r.success_time } : {}),
    user_received_account: '支付用户零钱',
    amount: { total: o.total, refund: r.refund, payer_total: o.payer_total ?? o.total, payer_refund: r.payer_refund ?? r.refund },
  };
}
