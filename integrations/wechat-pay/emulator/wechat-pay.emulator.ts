import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseBeijing } from '../../../lib/time';
import { EmulatorServer, type EmulatorRequest } from '../../emulator-server';
import type { MerchantCredentials } from '../wechat-pay.client';
import { requestId, verifyMerchantRequest } from './wechat-pay.emulator-auth';
import { BillDesk, billHasRows, openidOf, storedBillRows, billStream, validBillDate, type BillKind, type BillSpec } from './wechat-pay.emulator-bill';
import { CallbackDispatcher, WECHAT_RETRY_DELAYS_MS, type Delivery } from './wechat-pay.emulator-callbacks';
import { certificatesJson, pathSegment, replyHtml, replyJson, type Ctx, type Reply } from './wechat-pay.emulator-http';
import { RefundDesk, type RefundOutcome } from './wechat-pay.emulator-refunds';
import { createMerchant, EmulatorState, liveKeys, rfc3339Beijing, transactionJson, VendorError } from './wechat-pay.emulator-state';
import type { EmulatedMerchant, EmulatedOrder, EmulatedRefund, Fault, KeyMode, Route } from './wechat-pay.emulator-state';

export { syntheticOrder } from './wechat-pay.emulator-bill';
export type { EmulatedOrder, EmulatedRefund, Fault, KeyMode, Route } from './wechat-pay.emulator-state';

/**
 * A local WeChat Pay API v3: order query/close, refunds (wechat-pay.emulator-refunds.ts), trade bills and
 * their download, platform certificates, and callbacks pushed to notify_url. It checks the client's signatures with its own code
 * (wechat-pay.emulator-auth.ts), signs every JSON answer, and can be told to fail.
 */

export interface EmulatorOptions {
  callbackRetryDelaysMs?: readonly number[];
  now?: () => Date;
  callbackTimeoutMs?: number;
  /** 0 (default): a new refund ends at once; otherwise it answers PROCESSING and ends this long later. */
  refundProcessingMs?: number;
}

/** A download link lives five minutes (WeChat's current documentation). */
const TOKEN_TTL_MS = 5 * 60_000;
const DAY_MS = 86_400_000;


export class WechatPayEmulator {
  readonly baseUrl: string;
  private readonly state = new EmulatorState();
  private readonly callbacks: CallbackDispatcher;
  private readonly now: () => Date;
  private readonly bills = new BillDesk();
  private readonly sleeps = new Set<() => void>();
  private readonly refunds: RefundDesk;

  private constructor(
    private readonly server: EmulatorServer,
    options: EmulatorOptions,
  ) {
    this.baseUrl = server.baseUrl;
    this.now = options.now ?? (() => new Date());
    this.callbacks = new CallbackDispatcher(options.callbackRetryDelaysMs ?? WECHAT_RETRY_DELAYS_MS, options.callbackTimeoutMs ?? 5_000);
    this.refunds = new RefundDesk(this.state, this.callbacks, this.now, options.refundProcessingMs ?? 0);
  }

  static async start(options: EmulatorOptions = {}): Promise<WechatPayEmulator> {
    // No request can come before start returns: nobody knows the port yet.
    const server = await EmulatorServer.start((request) => emulator.handle(request));
    const emulator = new WechatPayEmulator(server, options);
    return emulator;
  }

  addMerchant(m: { mchid: string; appid: string; keyMode?: KeyMode; notifyUrl?: string; billColumns?: 24 | 27 }): MerchantCredentials {
    if (this.state.merchants.has(m.mchid)) throw new Error(`emulator: merchant ${m.mchid} exists`);
    const merchant = createMerchant(m);
    this.state.merchants.set(m.mchid, merchant);
    return {
      mchid: merchant.mchid,
      appid: merchant.appid,
      serialNo: merchant.serialNo,
      privateKey: merchant.privateKey,
      apiV3Key: merchant.apiV3Key,
      platformKeys: new Map(liveKeys(merchant).map((k) => [k.serial, k.publicKey])),
    };
  }

  /** In certificate mode there is no PUB_KEY_ID_ key: the certificate's serial and public key are written instead. */
  writeMerchantFiles(mchid: string, dir: string): { privateKeyFile: string; publicKeyFile: string; publicKeyId: string; apiV3Key: string; serialNo: string } {
    const m = this.state.merchant(mchid);
    mkdirSync(dir, { recursive: true });
    const platform = m.keyMode === 'certificate' ? m.certificate : m.publicKeyMode;
    const privateKeyFile = join(dir, `${mchid}_apiclient_key.pem`);
    const publicKeyFile = join(dir, `${mchid}_pub_key.pem`);
    writeFileSync(privateKeyFile, m.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(publicKeyFile, platform.publicKey.export({ type: 'spki', format: 'pem' }));
    return { privateKeyFile, publicKeyFile, publicKeyId: platform.serial, apiV3Key: m.apiV3Key, serialNo: m.serialNo };
  }

  setNotifyUrl(mchid: string, url: string): void {
    this.state.merchant(mchid).notifyUrl = url;
  }

  createOrder(o: { mchid: string; out_trade_no: string; total: number; description?: string; time_expire?: Date; notify_url?: string; created?: Date }): EmulatedOrder {
    const m = this.state.merchant(o.mchid);
    if (!Number.isSafeInteger(o.total) || o.total <= 0) throw new Error(`emulator: bad total ${o.total}`);
    const order: EmulatedOrder = {
      mchid: o.mchid,
      appid: m.appid,
      out_trade_no: o.out_trade_no,
      description: o.description ?? `order ${o.out_trade_no}`,
      total: o.total,
      trade_state: 'NOTPAY',
      time_expire: o.time_expire,
      notify_url: o.notify_url,
      created: o.created ?? this.now(),
      refunds: [],
    };
    this.state.addOrder(order);
    return order;
  }

  pay(outTradeNo: string, o: { at?: Date; payerTotal?: number; notify?: boolean; mchid?: string } = {}): EmulatedOrder {
    const order = this.state.order(outTradeNo, o.mchid);
    if (order.trade_state !== 'NOTPAY' && order.trade_state !== 'USERPAYING') throw new Error(`emulator: cannot pay a ${order.trade_state} order`);
    this.state.markPaid(order, o.at ?? this.now(), o.payerTotal);
    if (o.notify !== false) void this.push(order);
    return order;
  }

  failPayment(outTradeNo: string): EmulatedOrder {
    const order = this.state.order(outTradeNo);
    if (order.trade_state !== 'NOTPAY' && order.trade_state !== 'USERPAYING') throw new Error(`emulator: cannot fail a ${order.trade_state} order`);
    order.trade_state = 'PAYERROR';
    return order;
  }

  /** `notify: true` also pushes REFUND.SUCCESS (WeChat would; by default the refund only enters the ledger). */
  recordRefund(r: { out_trade_no: string; out_refund_no: string; refund: number; at?: Date; mchid?: string; notify?: boolean }): EmulatedRefund {
    const order = this.state.order(r.out_trade_no, r.mchid);
    if (order.trade_state !== 'SUCCESS' && order.trade_state !== 'REFUND') throw new Error(`emulator: cannot refund a ${order.trade_state} order`);
    const refund = this.state.addRefund(order, r.out_refund_no, r.refund, r.at ?? this.now());
    this.refunds.recorded(order, refund);
    if (r.notify) void this.refunds.push(order, refund);
    return refund;
  }

  setBalance(mchid: string, fen: number | null): void {
    this.refunds.setBalance(mchid, fen);
  }

  setRefundOutcome(status: RefundOutcome, o?: { outRefundNo?: string; times?: number }): void {
    this.refunds.setOutcome(status, o);
  }

  refund(outRefundNo: string, mchid?: string): EmulatedRefund | undefined {
    return this.refunds.find(outRefundNo, mchid);
  }

  ledger(mchid?: string): { refunds: number; refundedFen: number; byOrder: ReadonlyMap<string, number> } {
    return this.refunds.ledger(mchid);
  }

  get refundCalls(): number {
    return this.refunds.calls;
  }

  /** SUCCESS orders get TRANSACTION.SUCCESS again, refunded ones the REFUND.* of their latest ended refund. */
  notify(outTradeNo: string, o: { mchid?: string } = {}): Promise<void> {
    const order = this.state.order(outTradeNo, o.mchid);
    if (order.trade_state === 'SUCCESS') return this.push(order);
    const latest = order.refunds.filter((r) => r.status !== 'PROCESSING').pop();
    if (order.trade_state === 'REFUND' && latest) return this.refunds.push(order, latest);
    return Promise.reject(new Error(`emulator: a ${order.trade_state} order has no callback`));
  }

  private push(order: EmulatedOrder): Promise<void> {
    const merchant = this.state.merchant(order.mchid);
    const url = order.notify_url ?? merchant.notifyUrl;
    if (!url) return Promise.resolve();
    const base = { merchant, url, outTradeNo: order.out_trade_no, createTime: rfc3339Beijing(this.now()) };
    const resource = { ...transactionJson(order, openidOf(order.out_trade_no)), trade_state: 'SUCCESS', trade_state_desc: '支付成功' };
    return this.callbacks.send({ ...base, eventType: 'TRANSACTION.SUCCESS', summary: '支付成功', originalType: 'transaction', resource });
  }

  order(outTradeNo: string, mchid?: string): EmulatedOrder | undefined {
    return this.state.findOrder(outTradeNo, mchid);
  }

  get deliveries(): readonly Delivery[] {
    return this.callbacks.deliveries;
  }

  /** Refunds still PROCESSING count as callbacks to come. */
  async callbacksSettled(): Promise<void> {
    await this.refunds.settled();
    await this.callbacks.settled();
  }

  inject(fault: Fault, o: { route?: Route; times?: number } = {}): void {
    this.state.inject(fault, o.route ?? 'any', o.times ?? 1);
  }

  setBillState(mchid: string, billDate: string, state: 'creating' | 'ready' | 'auto'): void {
    this.state.billStates.set(`${mchid}/${billDate}`, state);
  }

  addSyntheticDay(d: { mchid: string; date: string; count: number; prefix: string }): void {
    this.state.merchant(d.mchid);
    const key = `${d.mchid}/${d.date}`;
    this.state.synthetic.set(key, [...(this.state.synthetic.get(key) ?? []), { date: d.date, count: d.count, prefix: d.prefix }]);
  }

  async stop(): Promise<void> {
    this.refunds.stop();
    this.callbacks.stop();
    for (const wake of this.sleeps) wake();
    this.sleeps.clear();
    await this.server.stop();
  }

  private async handle(request: EmulatorRequest): Promise<Reply> {
    const ctx: Ctx = { request, badSignature: false, drop: false };
    try {
      return await this.route(ctx);
    } catch (err) {
      if (err instanceof VendorError) return replyJson(ctx, err.status, { code: err.code, message: err.message });
      return replyJson(ctx, 500, { code: 'SYSTEM_ERROR', message: err instanceof Error ? err.message : '系统错误' });
    }
  }

  private async route(ctx: Ctx): Promise<Reply> {
    const { method, rawUrl, body, headers } = ctx.request;
    const path = ctx.request.url.pathname;
    const auth = verifyMerchantRequest(
      { method, rawUrl, body, authorization: headers.authorization, nowSeconds: Math.floor(Date.now() / 1000) },
      (mchid) => this.state.merchants.get(mchid),
    );
    if (!auth.ok) {
      ctx.merchant = this.headerMerchant(headers.authorization);
      throw new VendorError(401, 'SIGN_ERROR', auth.message);
    }
    ctx.merchant = this.state.merchant(auth.mchid);
    const query = /^\/v3\/pay\/transactions\/(out-trade-no|id)\/([^/]+)$/.exec(path);
    const close = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)\/close$/.exec(path);
    if (method === 'GET' && query) return this.faulted(ctx, 'query', () => this.query(ctx, query[1] === 'id', pathSegment(query[2])));
    if (method === 'POST' && close) return this.faulted(ctx, 'close', () => this.close(ctx, pathSegment(close[1])));
    if (method === 'GET' && path === '/v3/bill/tradebill') return this.faulted(ctx, 'tradebill', () => this.tradebill(ctx));
    if (method === 'GET' && path === '/v3/billdownload/file') return this.faulted(ctx, 'download', (truncate) => this.download(ctx, truncate));
    if (method === 'GET' && path === '/v3/certificates') return replyJson(ctx, 200, certificatesJson(ctx.merchant));
    const refund = /^\/v3\/refund\/domestic\/refunds\/([^/]+)$/.exec(path);
    if (method === 'POST' && path === '/v3/refund/domestic/refunds') {
      this.refunds.calls += 1;
      return this.faulted(ctx, 'refund', () => replyJson(ctx, 200, this.refunds.create(ctx.merchant as EmulatedMerchant, body)));
    }
    if (method === 'GET' && refund) return this.faulted(ctx, 'refund-query', () => replyJson(ctx, 200, this.refunds.query(ctx.merchant as EmulatedMerchant, pathSegment(refund[1]))));
    throw new VendorError(404, 'RESOURCE_NOT_EXISTS', '请求的资源不存在');
  }

  /** The merchant named by an Authorization header that failed: lets the 401 be signed too. */
  private headerMerchant(authorization: string | undefined): EmulatedMerchant | undefined {
    const mchid = /mchid="([^"]*)"/.exec(authorization ?? '')?.[1];
    return mchid ? this.state.merchants.get(mchid) : undefined;
  }

  /** Applies the next injected fault of the route, or runs it. */
  private async faulted(ctx: Ctx, route: Exclude<Route, 'any'>, run: (truncate: boolean) => Promise<Reply> | Reply): Promise<Reply> {
    const fault = this.state.takeFault(route);
    if (!fault) return run(false);
    switch (fault.kind) {
      case 'http':
        if (fault.html) return replyHtml(ctx, fault.status);
        throw new VendorError(fault.status, fault.status >= 500 ? 'SYSTEM_ERROR' : 'INVALID_REQUEST', fault.status >= 500 ? '系统错误' : '请求错误');
      case 'vendor':
        throw new VendorError(fault.status, fault.code, fault.message ?? fault.code);
      case 'rate-limit':
        throw new VendorError(429, 'FREQUENCY_LIMITED', '频率超限，请降低请求频率');
      case 'timeout':
        await this.sleep(fault.ms);
        return run(false);
      case 'bad-signature':
        ctx.badSignature = true;
        return run(false);
      case 'truncate-bill':
        return run(true);
      case 'drop-after-commit':
        ctx.drop = true;
        return run(false);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleeps.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleeps.add(wake);
    });
  }

  private query(ctx: Ctx, byTransactionId: boolean, id: string): Reply {
    const merchant = ctx.merchant as EmulatedMerchant;
    if (!ctx.request.url.searchParams.get('mchid')) throw new VendorError(400, 'PARAM_ERROR', '缺少参数 mchid');
    let order: EmulatedOrder | undefined;
    if (byTransactionId) {
      for (const o of this.state.orders.values()) if (o.mchid === merchant.mchid && o.transaction_id === id) order = o;
    } else order = this.state.findOrder(id, merchant.mchid);
    if (!order) throw new VendorError(404, 'ORDER_NOT_EXIST', '订单不存在');
    return replyJson(ctx, 200, transactionJson(order, openidOf(order.out_trade_no)));
  }

  private close(ctx: Ctx, outTradeNo: string): Reply {
    const merchant = ctx.merchant as EmulatedMerchant;
    let mchid: unknown;
    try {
      mchid = (JSON.parse(ctx.request.body.toString('utf8')) as { mchid?: unknown }).mchid;
    } catch {
      throw new VendorError(400, 'PARAM_ERROR', '请求体不是合法的 JSON');
    }
    if (mchid !== merchant.mchid) throw new VendorError(400, 'PARAM_ERROR', '缺少参数 mchid');
    const order = this.state.findOrder(outTradeNo, merchant.mchid);
    if (!order) throw new VendorError(404, 'ORDER_NOT_EXIST', '订单不存在');
    if (order.trade_state === 'SUCCESS' || order.trade_state === 'REFUND') throw new VendorError(400, 'ORDER_PAID', '订单已支付');
    order.trade_state = 'CLOSED';
    return replyJson(ctx, 204, undefined);
  }

  private async tradebill(ctx: Ctx): Promise<Reply> {
    const merchant = ctx.merchant as EmulatedMerchant;
    const params = ctx.request.url.searchParams;
    const date = params.get('bill_date') ?? '';
    const billType = (params.get('bill_type') ?? 'ALL') as BillKind;
    const tarType = params.get('tar_type');
    if (!['ALL', 'SUCCESS', 'REFUND'].includes(billType)) throw new VendorError(400, 'PARAM_ERROR', 'bill_type 取值错误');
    if (tarType !== null && tarType !== 'GZIP') throw new VendorError(400, 'PARAM_ERROR', 'tar_type 取值错误');
    const now = this.now();
    if (!validBillDate(date, now)) throw new VendorError(400, 'INVALID_REQUEST', '账单日期格式不正确或超出可下载范围（三个月内）');
    const state = this.state.billStates.get(`${merchant.mchid}/${date}`) ?? 'auto';
    const readyAt = parseBeijing(`${date} 10:00`).getTime() + DAY_MS;
    if (state === 'creating' || (state === 'auto' && now.getTime() < readyAt)) throw new VendorError(400, 'STATEMENT_CREATING', '账单生成中');
    const spec: BillSpec = {
      mchid: merchant.mchid,
      appid: merchant.appid,
      columns: merchant.billColumns,
      billType,
      date,
      rows: storedBillRows(this.state.orders.values(), merchant.mchid, date),
      synthetic: this.state.synthetic.get(`${merchant.mchid}/${date}`) ?? [],
    };
    if (!billHasRows(spec)) throw new VendorError(400, 'NO_STATEMENT_EXIST', '账单文件不存在');
    const { sha1, token } = await this.bills.grant(spec, tarType === 'GZIP', now.getTime() + TOKEN_TTL_MS);
    const download_url = `${this.baseUrl}/v3/billdownload/file?token=${token}${tarType === 'GZIP' ? '&tartype=gzip' : ''}`;
    return replyJson(ctx, 200, { hash_type: 'SHA1', hash_value: sha1, download_url });
  }

  private download(ctx: Ctx, truncate: boolean): Reply {
    const token = ctx.request.url.searchParams.get('token') ?? '';
    const ticket = this.bills.take(token);
    if (!ticket || ticket.expiresAt < this.now().getTime() || ticket.spec.mchid !== ctx.merchant?.mchid) {
      throw new VendorError(400, 'INVALID_REQUEST', '下载链接过期,请重新请求文件下载');
    }
    // The file itself is not signed: clients skip verification for /v3/billdownload/file.
    const headers = { 'Content-Type': ticket.gzip ? 'application/x-gzip' : 'text/plain;charset=utf-8', 'Request-ID': requestId() };
    const truncateAt = truncate ? Math.floor(ticket.bytes / 2) : undefined;
    return { status: 200, headers, body: billStream(ticket.spec, { gzip: ticket.gzip, truncateAt }) };
  }
}
