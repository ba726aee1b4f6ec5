import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';
import { parseBeijing } from '../../lib/time';
import type { CreateRefundRequest, MerchantCredentials, SignedHeaders, VerifiedNotification, WechatPayRefundNotice } from '../../integrations/wechat-pay/wechat-pay.client';
import { WechatPayEmulator } from '../../integrations/wechat-pay/emulator/wechat-pay.emulator';
import { NOT_ENOUGH_RETRY_MS, RefundDeferredError } from '../../integrations/wechat-pay/wechat-pay.errors';
import { LiveWechatPayClient } from '../../integrations/wechat-pay/wechat-pay.live';
import { refundSchema } from '../../integrations/wechat-pay/wechat-pay.schemas';

/** Refunds through the live client against the emulator: real HTTP, signatures checked on both sides. */

const NOW = parseBeijing('2026-03-10 12:00');
const DAY_MS = 86_400_000;
let clockMs = NOW.getTime();
const now = (): Date => new Date(clockMs);

interface Side {
  emu: WechatPayEmulator;
  creds: MerchantCredentials;
  client: LiveWechatPayClient;
}
let fast: Side; // refunds end at once
let slow: Side; // refunds stay PROCESSING for PROCESSING_MS
const PROCESSING_MS = 300;

let seq = 0;
const no = (p: string): string => `${p}${Date.now()}${(seq += 1)}`;

// ---- a notify_url that keeps every callback ----
interface Received {
  path: string;
  headers: SignedHeaders;
  body: Buffer;
}
const received: Received[] = [];
let receiver: Server;
let receiverBase = '';

async function openSide(mchid: string, o: { refundProcessingMs?: number }): Promise<Side> {
  const emu = await WechatPayEmulator.start({ now, callbackRetryDelaysMs: [50, 50], callbackTimeoutMs: 500, ...o });
  const creds = emu.addMerchant({ mchid, appid: `wx${mchid}abcdef`, notifyUrl: `${receiverBase}/merchant/${mchid}` });
  return { emu, creds, client: new LiveWechatPayClient(creds, { baseUrl: emu.baseUrl, timeoutMs: 3_000 }) };
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers as SignedHeaders, body: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverBase = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  fast = await openSide('1900000301', {});
  slow = await openSide('1900000302', { refundProcessingMs: PROCESSING_MS });
});
afterAll(async () => {
  await fast.emu.stop();
  await slow.emu.stop();
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});
afterEach(() => {
  clockMs = NOW.getTime();
  fast.emu.setBalance(fast.creds.mchid, null);
});

/** A paid order (no payment callback: only refund callbacks reach the receiver). */
function paid(side: Side, total: number, o: { at?: Date; payerTotal?: number } = {}): string {
  const otn = no('P');
  side.emu.createOrder({ mchid: side.creds.mchid, out_trade_no: otn, total });
  side.emu.pay(otn, { mchid: side.creds.mchid, notify: false, at: o.at, payerTotal: o.payerTotal });
  return otn;
}

function req(otn: string, refund: number, total: number, o: Partial<CreateRefundRequest> = {}): CreateRefundRequest {
  return { out_trade_no: otn, out_refund_no: no('R'), amount: { refund, total, currency: 'CNY' }, ...o };
}

/** The verified REFUND.* callbacks received for one refund number. */
function callbacksOf(side: Side, outRefundNo: string): (VerifiedNotification & { kind: 'refund' } & { path: string })[] {
  const out: (VerifiedNotification & { kind: 'refund' } & { path: string })[] = [];
  for (const r of received) {
    if (!r.path.includes(side.creds.mchid)) continue;
    const n = side.client.verifyNotification(r.headers, r.body);
    if (n.kind === 'refund' && n.resource.out_refund_no === outRefundNo) out.push({ ...n, path: r.path });
  }
  return out;
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
}

async function permanent(p: Promise<unknown>, code: string): Promise<PermanentError> {
  const err = await failure(p);
  expect(err).toBeInstanceOf(PermanentError);
  expect((err as PermanentError).code).toBe(code);
  return err as PermanentError;
}

describe('creating and querying refunds', () => {
  it('refunds at once and pushes a REFUND.SUCCESS the client verifies, to the merchant notify URL', async () => {
    const { emu, client, creds } = fast;
    const otn = paid(fast, 1000);
    const before = emu.ledger(creds.mchid).refunds;
    const r = req(otn, 300, 1000, { reason: '商品已售完' });
    const refund = await client.createRefund(r);
    expect(refund).toMatchObject({ out_refund_no: r.out_refund_no, out_trade_no: otn, status: 'SUCCESS', amount: { total: 1000, refund: 300, payer_refund: 300 } });
    expect(refund.refund_id).toMatch(/^\d+$/);
    expect(refund.success_time).toBe('2026-03-10T12:00:00+08:00');
    await emu.callbacksSettled();
    const [cb, ...more] = callbacksOf(fast, r.out_refund_no);
    expect(more).toHaveLength(0);
    expect(cb?.path).toBe(`/merchant/${creds.mchid}`);
    expect(cb).toMatchObject({ event_type: 'REFUND.SUCCESS', resource: { mchid: creds.mchid, out_trade_no: otn, refund_id: refund.refund_id, refund_status: 'SUCCESS', amount: { total: 1000, refund: 300, payer_total: 1000, payer_refund: 300 } } });
    expect(cb?.resource.transaction_id).toBe(emu.order(otn)?.transaction_id);
    expect(cb?.resource.user_received_account).toBeTruthy();
    expect(emu.order(otn)?.trade_state).toBe('REFUND');
    expect(emu.ledger(creds.mchid).refunds).toBe(before + 1);
    expect(emu.ledger(creds.mchid).byOrder.get(otn)).toBe(300);
    expect(await client.queryRefund(r.out_refund_no)).toMatchObject({ refund_id: refund.refund_id, status: 'SUCCESS', amount: { refund: 300 } });
    expect((await client.queryOrder(otn))?.trade_state).toBe('REFUND');
  });

  it("sends the callback to the request's notify_url when it names one", async () => {
    const otn = paid(fast, 500);
    const r = req(otn, 500, 500, { notify_url: `${receiverBase}/own/${fast.creds.mchid}` });
    await fast.client.createRefund(r);
    await fast.emu.callbacksSettled();
    expect(callbacksOf(fast, r.out_refund_no).map((c) => c.path)).toEqual([`/own/${fast.creds.mchid}`]);
  });

  it('answers PROCESSING, then turns SUCCESS later with its callback; the query shows the change', async () => {
    const { emu, client, creds } = slow;
    const otn = paid(slow, 2000);
    const r = req(otn, 2000, 2000);
    const first = await client.createRefund(r);
    expect(first.status).toBe('PROCESSING');
    expect(first.success_time).toBeUndefined();
    expect((await client.queryRefund(r.out_refund_no))?.status).toBe('PROCESSING');
    expect(emu.ledger(creds.mchid).byOrder.get(otn)).toBeUndefined();
    expect(emu.order(otn)?.trade_state).toBe('REFUND');
    await emu.callbacksSettled();
    const later = await client.queryRefund(r.out_refund_no);
    expect(later).toMatchObject({ refund_id: first.refund_id, status: 'SUCCESS' });
    expect(later?.success_time).toBeTruthy();
    expect(callbacksOf(slow, r.out_refund_no).map((c) => [c.event_type, c.resource.refund_status])).toEqual([['REFUND.SUCCESS', 'SUCCESS']]);
    expect(emu.ledger(creds.mchid).byOrder.get(otn)).toBe(2000);
  });

  it('ends CLOSED with REFUND.CLOSED: nothing refunded, and a new refund number may refund the money', async () => {
    const { emu, client, creds } = slow;
    const otn = paid(slow, 800);
    const r = req(otn, 800, 800);
    emu.setRefundOutcome('CLOSED', { outRefundNo: r.out_refund_no });
    expect((await client.createRefund(r)).status).toBe('PROCESSING');
    await emu.callbacksSettled();
    expect((await client.queryRefund(r.out_refund_no))?.status).toBe('CLOSED');
    const [cb] = callbacksOf(slow, r.out_refund_no);
    expect(cb).toMatchObject({ event_type: 'REFUND.CLOSED', resource: { refund_status: 'CLOSED' } });
    expect(cb?.resource.success_time).toBeUndefined();
    expect(emu.ledger(creds.mchid).byOrder.get(otn)).toBeUndefined();
    const again = req(otn, 800, 800);
    expect((await client.createRefund(again)).status).toBe('PROCESSING');
    await emu.callbacksSettled();
    expect((await client.queryRefund(again.out_refund_no))?.status).toBe('SUCCESS');
    expect(emu.ledger(creds.mchid).byOrder.get(otn)).toBe(800);
  });

  it('ends ABNORMAL with REFUND.ABNORMAL for the next new refund only', async () => {
    const { emu, client, creds } = fast;
    const otn = paid(fast, 900);
    emu.setRefundOutcome('ABNORMAL');
    const r = req(otn, 100, 900);
    expect((await client.createRefund(r)).status).toBe('ABNORMAL');
    const next = req(otn, 100, 900);
    expect((await client.createRefund(next)).status).toBe('SUCCESS');
    await emu.callbacksSettled();
    expect(callbacksOf(fast, r.out_refund_no).map((c) => [c.event_type, c.resource.refund_status])).toEqual([['REFUND.ABNORMAL', 'ABNORMAL']]);
    expect(emu.refund(r.out_refund_no, creds.mchid)?.status).toBe('ABNORMAL');
    expect(emu.ledger(creds.mchid).byOrder.get(otn)).toBe(100);
  });

  it('gives the same refund for the same out_refund_no twice and counts it once', async () => {
    const { emu, client, creds } = fast;
    const otn = paid(fast, 1000);
    const r = req(otn, 400, 1000);
    const calls = emu.refundCalls;
    const a = await client.createRefund(r);
    const b = await client.createRefund(r);
    expect(b.refund_id).toBe(a.refund_id);
    expect(b.status).toBe('SUCCESS');
    expect(emu.refundCalls).toBe(calls + 2);
    expect(emu.ledger(creds.mchid).byOrder.get(otn)).toBe(400);
    expect(emu.order(otn)?.refunds).toHaveLength(1);
  });

  it('refuses the same out_refund_no with another amount (INVALID_REQUEST)', async () => {
    const otn = paid(fast, 1000);
    const r = req(otn, 400, 1000);
    await fast.client.createRefund(r);
    await permanent(fast.client.createRefund({ ...r, amount: { ...r.amount, refund: 401 } }), 'INVALID_REQUEST');
    expect(fast.emu.ledger(fast.creds.mchid).byOrder.get(otn)).toBe(400);
  });

  it('refuses more than the order total, and a wrong amount.total; Σ = total is fine', async () => {
    const otn = paid(fast, 1000);
    await fast.client.createRefund(req(otn, 600, 1000));
    const err = await permanent(fast.client.createRefund(req(otn, 401, 1000)), 'INVALID_REQUEST');
    expect(err.message).toContain('退款金额超过订单可退金额');
    await permanent(fast.client.createRefund(req(otn, 10, 999)), 'INVALID_REQUEST');
    await fast.client.createRefund(req(otn, 400, 1000));
    expect(fast.emu.ledger(fast.creds.mchid).byOrder.get(otn)).toBe(1000);
    await permanent(fast.client.createRefund(req(otn, 1, 1000)), 'INVALID_REQUEST');
  });

  it('allows 50 refunds of one order and refuses the 51st', async () => {
    const otn = paid(fast, 100);
    for (let i = 0; i < 50; i += 1) await fast.client.createRefund(req(otn, 1, 100));
    await permanent(fast.client.createRefund(req(otn, 1, 100)), 'INVALID_REQUEST');
    expect(fast.emu.ledger(fast.creds.mchid).byOrder.get(otn)).toBe(50);
    await fast.emu.callbacksSettled();
  });

  it('refuses unpaid and unknown orders (RESOURCE_NOT_EXISTS)', async () => {
    const otn = no('U');
    fast.emu.createOrder({ mchid: fast.creds.mchid, out_trade_no: otn, total: 100 });
    await permanent(fast.client.createRefund(req(otn, 100, 100)), 'RESOURCE_NOT_EXISTS');
    await permanent(fast.client.createRefund(req(no('X'), 100, 100)), 'RESOURCE_NOT_EXISTS');
  });

  it('refuses a payment older than one year, not one just inside it', async () => {
    const old = paid(fast, 100, { at: new Date(NOW.getTime() - 366 * DAY_MS) });
    const recent = paid(fast, 100, { at: new Date(NOW.getTime() - 364 * DAY_MS) });
    await permanent(fast.client.createRefund(req(old, 100, 100)), 'INVALID_REQUEST');
    expect((await fast.client.createRefund(req(recent, 100, 100))).status).toBe('SUCCESS');
    expect(fast.emu.ledger(fast.creds.mchid).byOrder.get(old)).toBeUndefined();
  });

  it('gives the payer a proportional share of a discounted order', async () => {
    const otn = paid(fast, 1000, { payerTotal: 800 });
    const a = await fast.client.createRefund(req(otn, 333, 1000));
    expect(a.amount).toMatchObject({ refund: 333, payer_total: 800, payer_refund: 266 });
    const b = await fast.client.createRefund(req(otn, 667, 1000));
    expect(b.amount.payer_refund).toBe(534); // the last one gives back exactly what is left
    await fast.emu.callbacksSettled();
    expect(callbacksOf(fast, a.out_refund_no)[0]?.resource.amount).toMatchObject({ refund: 333, payer_refund: 266 });
  });

  it('answers null for an unknown refund', async () => {
    expect(await fast.client.queryRefund(no('NONE'))).toBeNull();
    expect(await fast.client.queryRefund('a/b?c')).toBeNull();
  });

  it('counts refunds recorded by hand in the ledger and against the total', async () => {
    const otn = paid(fast, 1000);
    fast.emu.recordRefund({ mchid: fast.creds.mchid, out_trade_no: otn, out_refund_no: no('M'), refund: 700 });
    expect(fast.emu.ledger(fast.creds.mchid).byOrder.get(otn)).toBe(700);
    await permanent(fast.client.createRefund(req(otn, 301, 1000)), 'INVALID_REQUEST');
  });

  it('puts refunds made through the API in the bill of the day they succeeded', async () => {
    const otn = paid(fast, 5000, { at: parseBeijing('2026-03-01 10:00') });
    clockMs = parseBeijing('2026-03-02 15:30').getTime();
    const r = req(otn, 1234, 5000);
    await fast.client.createRefund(r);
    clockMs = NOW.getTime();
    const app = await fast.client.applyTradeBill('2026-03-02', { billType: 'REFUND' });
    if (app.kind !== 'ticket') throw new Error('no bill');
    const chunks: Buffer[] = [];
    for await (const c of await fast.client.downloadBill(app.ticket)) chunks.push(c as Buffer);
    const line = Buffer.concat(chunks).toString('utf8').split('\r\n').find((l) => l.includes(r.out_refund_no));
    expect(line).toContain('`2026-03-02 15:30:00');
    expect(line).toContain('`12.34');
    await fast.emu.callbacksSettled();
  });
});

describe('refund failures', () => {
  it('defers NOT_ENOUGH and records nothing; after a top-up the same request refunds', async () => {
    const { emu, client, creds } = fast;
    const otn = paid(fast, 1000);
    emu.setBalance(creds.mchid, 499);
    const r = req(otn, 500, 1000);
    const started = Date.now();
    const err = await failure(client.createRefund(r));
    expect(err).toBeInstanceOf(RefundDeferredError);
    expect((err as RefundDeferredError).untilMs).toBeGreaterThanOrEqual(started + NOT_ENOUGH_RETRY_MS);
    expect(emu.refund(r.out_refund_no, creds.mchid)).toBeUndefined();
    expect(await client.queryRefund(r.out_refund_no)).toBeNull();
    expect(emu.order(otn)?.trade_state).toBe('SUCCESS');
    emu.setBalance(creds.mchid, 900);
    expect((await client.createRefund(r)).status).toBe('SUCCESS');
    expect(emu.ledger(creds.mchid).byOrder.get(otn)).toBe(500);
    // 900 − 500 left: 401 more is too much, 400 fits.
    expect(await failure(client.createRefund(req(otn, 401, 1000)))).toBeInstanceOf(RefundDeferredError);
    expect((await client.createRefund(req(otn, 400, 1000))).status).toBe('SUCCESS');
  });

  it('holds the balance of refunds still PROCESSING', async () => {
    const { emu, client, creds } = slow;
    const otn = paid(slow, 1000);
    emu.setBalance(creds.mchid, 600);
    await client.createRefund(req(otn, 500, 1000));
    expect(await failure(client.createRefund(req(otn, 200, 1000)))).toBeInstanceOf(RefundDeferredError);
    await emu.callbacksSettled();
    expect(await failure(client.createRefund(req(otn, 200, 1000)))).toBeInstanceOf(RefundDeferredError);
    emu.setBalance(creds.mchid, null);
  });

  it('turns FREQUENCY_LIMITED into RateLimitedError and records nothing', async () => {
    const otn = paid(fast, 100);
    const r = req(otn, 100, 100);
    fast.emu.inject({ kind: 'rate-limit' }, { route: 'refund' });
    expect(await failure(fast.client.createRefund(r))).toBeInstanceOf(RateLimitedError);
    expect(fast.emu.refund(r.out_refund_no)).toBeUndefined();
    expect((await fast.client.createRefund(r)).status).toBe('SUCCESS');
  });

  it('turns SYSTEM_ERROR into RetryableError; the retry with the same number refunds once', async () => {
    const otn = paid(fast, 100);
    const r = req(otn, 60, 100);
    fast.emu.inject({ kind: 'vendor', status: 500, code: 'SYSTEM_ERROR', message: '系统超时' }, { route: 'refund' });
    const err = await failure(fast.client.createRefund(r));
    expect(err).toBeInstanceOf(RetryableError);
    const again = await fast.client.createRefund(r);
    expect((await fast.client.createRefund(r)).refund_id).toBe(again.refund_id);
    expect(fast.emu.ledger(fast.creds.mchid).byOrder.get(otn)).toBe(60);
  });

  it('turns USER_ACCOUNT_ABNORMAL into PermanentError', async () => {
    const otn = paid(fast, 100);
    fast.emu.inject({ kind: 'vendor', status: 403, code: 'USER_ACCOUNT_ABNORMAL', message: '退款请求失败' }, { route: 'refund' });
    await permanent(fast.client.createRefund(req(otn, 100, 100)), 'USER_ACCOUNT_ABNORMAL');
  });

  it('faults the query route on its own', async () => {
    fast.emu.inject({ kind: 'vendor', status: 500, code: 'SYSTEM_ERROR' }, { route: 'refund-query' });
    expect(await failure(fast.client.queryRefund(no('Q')))).toBeInstanceOf(RetryableError);
    expect(await fast.client.queryRefund(no('Q'))).toBeNull();
  });

  it('after a dropped answer, the retry with the same out_refund_no answers the same refund, counted once', async () => {
    const { emu, client, creds } = fast;
    const otn = paid(fast, 1000);
    const r = req(otn, 1000, 1000);
    emu.inject({ kind: 'drop-after-commit' }, { route: 'refund' });
    expect(await failure(client.createRefund(r))).toBeInstanceOf(RetryableError);
    const kept = emu.refund(r.out_refund_no, creds.mchid);
    expect(kept?.status).toBe('SUCCESS');
    const again = await client.createRefund(r);
    expect(again.refund_id).toBe(kept?.refund_id);
    expect(emu.ledger(creds.mchid).byOrder.get(otn)).toBe(1000);
    expect(emu.order(otn)?.refunds).toHaveLength(1);
    await emu.callbacksSettled();
    // The callback went out although the create call never got its answer.
    expect(callbacksOf(fast, r.out_refund_no)).toHaveLength(1);
  });
});

describe('refund answers', () => {
  it('reads the CLOSE spelling as CLOSED', () => {
    const parsed = refundSchema.parse({ refund_id: '1', out_refund_no: 'R', out_trade_no: 'T', status: 'CLOSE', amount: { total: 1, refund: 1 } });
    expect(parsed.status).toBe('CLOSED');
    const notice: WechatPayRefundNotice = { out_trade_no: 'T', out_refund_no: 'R', refund_status: parsed.status };
    expect(notice.refund_status).toBe('CLOSED');
  });
});
