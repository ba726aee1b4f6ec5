import Fastify from 'fastify';
import { AndroidOrder, AndroidOrderStatus } from '../../entities/app/android-order.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { applyWechatRefund } from '../../jobs/wechat-pay/apply-wechat-refund';
import { refundJobId, requestRefund } from '../../jobs/wechat-pay/request-refund';
import { refundSubmit } from '../../jobs/wechat-pay/refund-submit.job';
import { pollDue, refundSync } from '../../jobs/wechat-pay/refund-sync.job';
import { BusinessSource } from '../../entities/dms/audit';
import { registerRefundRoutes } from '../../server/api/refunds.routes';
import { QueueSet } from '../../workers/queues';
import { refundSweeper } from '../../workers/refund-sweeper';
import { sweepOnce } from '../../workers/sweeper';
import { testRedis } from '../support/queues';
import { REFUND_TOKEN, refundHarness, refundRegistry } from '../support/refund-harness';
import { until } from '../support/wait';
import { TEST_MCHID } from '../support/wechat-pay';

const TOKEN = REFUND_TOKEN;
const DAY = 24 * 3_600_000;
const registry = refundRegistry;

describe('refunds: API → refund-submit → WeChat (emulator answering at once) → REFUNDED', () => {
  const t = refundHarness(__filename);
  const { emulator, post, refund, payment, audits, ended, paidPayment } = t;

  it('refunds a payment once: refund row, payment, business order, audit rows, one WeChat refund; the same request again answers the same refund', async () => {
    const p = await paidPayment(1_000);
    const calls = emulator().refundCalls;
    const [first, second] = await Promise.all([post({ outTradeNo: p.outTradeNo, amount: 1_000, reason: '活动取消' }, 'k-1'), post({ outTradeNo: p.outTradeNo, amount: 1_000, reason: '活动取消' }, 'k-1')]);
    expect(first.statusCode).toBe(202);
    expect(second.statusCode).toBe(202);
    const body = first.json<{ refundOrderId: string; outRefundNo: string; status: string; amount: number }>();
    expect(body).toMatchObject({ outRefundNo: expect.stringMatching(/^R[0-9a-f]{31}$/), status: 'REFUNDING', amount: 1_000 });
    expect(second.json()).toMatchObject({ refundOrderId: body.refundOrderId, outRefundNo: body.outRefundNo });

    const row = await ended(body.outRefundNo);
    await t.jobFinished(refundJobId(body.outRefundNo));
    await t.callbacksHandled(body.outRefundNo);
    const atWechat = emulator().refund(body.outRefundNo);
    expect(row).toMatchObject({ wechatStatus: 'SUCCESS', refundId: atWechat?.refund_id, amount: 1_000, total: 1_000, reason: '活动取消', businessType: 'EVENT', paymentOrderId: p.id, userReceivedAccount: expect.any(String) });
    expect(row.successTime).not.toBeNull();
    expect(await payment(p.id)).toMatchObject({ payStatus: 'REFUNDED', refundedAmount: 1_000 });
    const order = await t.h.hub.db.getRepository(EventOrder).findOneByOrFail({ paymentOrderId: p.id });
    expect(order).toMatchObject({ pamentStatus: 'REFUNDED', status: 'REFUNDED', refundOrderId: row.id });
    expect(await t.h.hub.db.getRepository(RefundOrder).countBy({ paymentOrderId: p.id })).toBe(1);
    expect(emulator().refundCalls - calls).toBe(1);
    expect(emulator().ledger().byOrder.get(p.outTradeNo)).toBe(1_000);
    expect((await audits(body.outRefundNo, BusinessSource.REFUND)).map((a) => a.operationType).sort()).toEqual([1, 2]);
    expect(await audits(p.outTradeNo, BusinessSource.PAYMENT)).toHaveLength(2);
    expect(await audits(order.id, BusinessSource.EVENT_ORDER)).toHaveLength(1);

    const again = await post({ outTradeNo: p.outTradeNo, amount: 1_000, reason: '活动取消' }, 'k-1');
    expect(again.statusCode).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toMatchObject({ refundOrderId: body.refundOrderId, outRefundNo: body.outRefundNo, status: 'REFUNDED' });
    const view = await t.h.api.inject({ method: 'GET', url: `/api/v1/refunds/${body.outRefundNo}`, headers: { authorization: `Bearer ${TOKEN}` } });
    expect(view.json()).toMatchObject({ status: 'REFUNDED', wechatStatus: 'SUCCESS', amount: 1_000 });
    expect(emulator().refundCalls - calls).toBe(1);
  });

  it('takes partial refunds up to the paid amount, then refuses; the payment goes back to PAY_SUCCESS between them', async () => {
    const p = await paidPayment(1_000, { business: 'GROUP_BUY' });
    const a = (await post({ paymentOrderId: p.id, amount: 600 }, 'part-1')).json<{ outRefundNo: string }>();
    expect((await post({ paymentOrderId: p.id, amount: 500 }, 'part-x')).json()).toMatchObject({ error: 'REFUND_EXCEEDS_PAID' });
    await ended(a.outRefundNo);
    await until('payment settled after the first part', async () => (await payment(p.id)).payStatus === 'PAY_SUCCESS');
    expect(await payment(p.id)).toMatchObject({ refundedAmount: 600 });
    expect(await t.h.hub.db.getRepository(GroupBuyEventOrder).findOneByOrFail({ paymentOrderId: p.id })).toMatchObject({ pamentStatus: 'PAY_SUCCESS', status: 'JOINED' });

    const b = (await post({ paymentOrderId: p.id, amount: 400 }, 'part-2')).json<{ outRefundNo: string }>();
    await ended(b.outRefundNo);
    await until('payment fully refunded', async () => (await payment(p.id)).payStatus === 'REFUNDED');
    expect(await payment(p.id)).toMatchObject({ refundedAmount: 1_000 });
    expect(await t.h.hub.db.getRepository(GroupBuyEventOrder).findOneByOrFail({ paymentOrderId: p.id })).toMatchObject({ pamentStatus: 'REFUNDED', status: 'REFUNDED' });
    const over = await post({ paymentOrderId: p.id, amount: 1 }, 'part-3');
    expect(over.statusCode).toBe(422);
    expect(over.json()).toMatchObject({ error: 'REFUND_EXCEEDS_PAID' });
    expect(emulator().ledger().byOrder.get(p.outTradeNo)).toBe(1_000);
    expect(await t.h.hub.db.getRepository(RefundOrder).countBy({ paymentOrderId: p.id })).toBe(2);
  });

  it('refuses what breaks a rule and writes nothing: unpaid, unknown, a year old, 51st refund, key reused, bad body', async () => {
    const repo = t.h.hub.db.getRepository(PaymentOrder);
    const unpaidNo = t.newNo('U');
    await repo.insert({ businessType: 'EVENT', mchid: TEST_MCHID, outTradeNo: unpaidNo, amount: 100, payStatus: 'UNPAID', createdTime: new Date(), updatedTime: new Date() });
    const unpaid = await post({ outTradeNo: unpaidNo, amount: 100 }, 'r-unpaid');
    expect([unpaid.statusCode, unpaid.json<{ error: string }>().error]).toEqual([422, 'PAYMENT_NOT_PAID']);
    const unknown = await post({ outTradeNo: 'NOSUCHORDER', amount: 100 }, 'r-unknown');
    expect([unknown.statusCode, unknown.json<{ error: string }>().error]).toEqual([404, 'PAYMENT_NOT_FOUND']);
    const old = await paidPayment(100, { paidAt: new Date(Date.now() - 367 * DAY) });
    const tooOld = await post({ outTradeNo: old.outTradeNo, amount: 100 }, 'r-old');
    expect([tooOld.statusCode, tooOld.json<{ error: string }>().error]).toEqual([422, 'PAYMENT_TOO_OLD']);
    expect(await payment(old.id)).toMatchObject({ payStatus: 'PAY_SUCCESS' });

    const bad = await post({ outTradeNo: old.outTradeNo, paymentOrderId: old.id, amount: 1.5, reason: 'x'.repeat(81) }, 'r-bad');
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ fields: string[] }>().fields.join('\n')).toMatch(/amount[\s\S]*reason|reason[\s\S]*amount/);
    const noKey = await t.h.api.inject({ method: 'POST', url: '/api/v1/refunds', headers: { authorization: `Bearer ${TOKEN}` }, payload: { outTradeNo: old.outTradeNo, amount: 1 } });
    expect(noKey.statusCode).toBe(400);
    const noAuth = await t.h.api.inject({ method: 'POST', url: '/api/v1/refunds', payload: {} });
    expect(noAuth.statusCode).toBe(401);
    // The hub's own app serves the same routes behind the same tokens.
    expect((await t.h.app.inject({ method: 'GET', url: '/api/v1/refunds/R1' })).statusCode).toBe(401);

    // 50 refunds recorded (not yet submitted), then the 51st refused; the key of one reused with another amount.
    const many = await paidPayment(100);
    for (let i = 0; i < 50; i += 1) await requestRefund(t.deps(), { client: 'crm', idempotencyKey: `many-${i}`, paymentOrderId: many.id, amount: 1 });
    const fiftyFirst = await post({ paymentOrderId: many.id, amount: 1 }, 'many-50');
    expect([fiftyFirst.statusCode, fiftyFirst.json<{ error: string }>().error]).toEqual([422, 'TOO_MANY_REFUNDS']);
    const reused = await post({ paymentOrderId: many.id, amount: 2 }, 'many-0');
    expect([reused.statusCode, reused.json<{ error: string }>().error]).toEqual([409, 'IDEMPOTENCY_KEY_REUSED']);
    expect(await t.h.hub.db.getRepository(RefundOrder).count()).toBe(50);
    expect(await t.h.hub.db.getRepository(DmsBusinessLog).countBy({ businessNo: old.outTradeNo })).toBe(0);
  });

  it('compares business keys exactly: another case or trailing spaces name no payment and no refund', async () => {
    const p = await paidPayment(300, { paidAt: new Date() });
    const oid = t.newNo('A');
    await t.h.hub.db.getRepository(AndroidOrder).insert({ oid, uid: 7, productId: 3, productPrice: 300, orderAmount: 300, paymentAmount: 300, status: AndroidOrderStatus.PAID, payTime: new Date(), createdAt: new Date() });
    const near = [p.outTradeNo.toLowerCase(), `${p.outTradeNo} `, oid.toLowerCase(), `${oid}  `];
    for (const [i, outTradeNo] of near.entries()) {
      const res = await post({ outTradeNo, amount: 100 }, `near-${i}`);
      expect([outTradeNo, res.statusCode, res.json<{ error: string }>().error]).toEqual([outTradeNo, 404, 'PAYMENT_NOT_FOUND']);
    }
    expect(await t.h.hub.db.getRepository(RefundOrder).count()).toBe(0);
    expect(await payment(p.id)).toMatchObject({ payStatus: 'PAY_SUCCESS' });

    const { refund: r } = await requestRefund(t.deps(), { client: 'crm', idempotencyKey: 'exact-1', outTradeNo: p.outTradeNo, amount: 100 });
    const get = (no: string) => t.h.api.inject({ method: 'GET', url: `/api/v1/refunds/${encodeURIComponent(no)}`, headers: { authorization: `Bearer ${TOKEN}` } });
    expect((await get(r.outRefundNo)).json()).toMatchObject({ outRefundNo: r.outRefundNo, outTradeNo: p.outTradeNo, amount: 100 });
    for (const no of [r.outRefundNo.toLowerCase(), r.outRefundNo.toUpperCase(), `${r.outRefundNo} `]) {
      const res = await get(no);
      expect([no, res.statusCode, res.json<{ error: string }>().error]).toEqual([no, 404, 'REFUND_NOT_FOUND']);
    }
  });

  it('refunds an app payment (android_order): refund_order APP, android_order status 3', async () => {
    const oid = t.newNo('A');
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: oid, total: 600 });
    const paid = emulator().pay(oid, { notify: false });
    await t.h.hub.db.getRepository(AndroidOrder).insert({ oid, uid: 7, productId: 3, productPrice: 600, orderAmount: 600, paymentAmount: 600, status: AndroidOrderStatus.PAID, tid: paid.transaction_id ?? null, payTime: new Date(), createdAt: new Date() });
    const res = (await post({ outTradeNo: oid, amount: 600 }, 'app-1')).json<{ outRefundNo: string }>();
    const row = await ended(res.outRefundNo);
    expect(row).toMatchObject({ businessType: 'APP', paymentOrderId: null, businessOrderId: oid, outTradeNo: oid, transactionId: paid.transaction_id });
    await until('android order refunded', async () => (await t.h.hub.db.getRepository(AndroidOrder).findOneByOrFail({ oid })).status === AndroidOrderStatus.REFUNDED);
    expect(await audits(oid, BusinessSource.APP_ORDER)).toHaveLength(1);
    expect(emulator().ledger().byOrder.get(oid)).toBe(600);
  });

  it('NOT_ENOUGH: the job waits (delayed, no attempt used, an alert), and refunds once the balance is topped up', async () => {
    const p = await paidPayment(800);
    emulator().setBalance(TEST_MCHID, 100);
    try {
      const { outRefundNo } = (await post({ paymentOrderId: p.id, amount: 800 }, 'ne-1')).json<{ outRefundNo: string }>();
      const queue = t.h.hub.queues.get('refunds');
      await until('refund job delayed', async () => (await queue.getJobState(refundJobId(outRefundNo))) === 'delayed', 15_000);
      const job = await queue.getJob(refundJobId(outRefundNo));
      expect(job?.attemptsMade).toBe(0);
      expect(await refund(outRefundNo)).toMatchObject({ status: 'REFUNDING', wechatStatus: null });
      expect(t.alerts('refund-balance-short').some((a) => a.outRefundNo === outRefundNo)).toBe(true);
      emulator().setBalance(TEST_MCHID, null);
      await job?.promote();
      await ended(outRefundNo);
      expect(emulator().ledger().byOrder.get(p.outTradeNo)).toBe(800);
    } finally {
      emulator().setBalance(TEST_MCHID, null);
    }
  });

  it('SYSTEM_ERROR is retried under the same out_refund_no and refunds once', async () => {
    const p = await paidPayment(300);
    emulator().inject({ kind: 'vendor', status: 500, code: 'SYSTEM_ERROR' }, { route: 'refund' });
    const calls = emulator().refundCalls;
    const { outRefundNo } = (await post({ paymentOrderId: p.id, amount: 300 }, 'se-1')).json<{ outRefundNo: string }>();
    await ended(outRefundNo, 'REFUNDED', 30_000);
    expect(emulator().refundCalls - calls).toBe(2);
    expect(emulator().ledger().byOrder.get(p.outTradeNo)).toBe(300);
    expect(await payment(p.id)).toMatchObject({ refundedAmount: 300 });
  });

  it('USER_ACCOUNT_ABNORMAL ends the refund REFUND_FAILED with the code and an alert; the job does not fail', async () => {
    const p = await paidPayment(300);
    emulator().inject({ kind: 'vendor', status: 403, code: 'USER_ACCOUNT_ABNORMAL', message: '退款请求失败' }, { route: 'refund' });
    const { outRefundNo } = (await post({ paymentOrderId: p.id, amount: 300 }, 'ua-1')).json<{ outRefundNo: string }>();
    const row = await ended(outRefundNo, 'REFUND_FAILED');
    expect(row.failReason).toMatch(/^USER_ACCOUNT_ABNORMAL/);
    expect(await t.jobFinished(refundJobId(outRefundNo))).toMatchObject({ status: 'done', result: { outcome: 'failed', code: 'USER_ACCOUNT_ABNORMAL' } });
    expect(await payment(p.id)).toMatchObject({ payStatus: 'REFUND_FAILED', refundedAmount: 0 });
    expect(t.alerts('refund-failed').some((a) => a.outRefundNo === outRefundNo)).toBe(true);
    expect(emulator().ledger().byOrder.get(p.outTradeNo)).toBeUndefined();
    // The money is still ours to refund: a new request (new key) is accepted.
    const retry = await post({ paymentOrderId: p.id, amount: 300 }, 'ua-2');
    expect(retry.statusCode).toBe(202);
    await ended(retry.json<{ outRefundNo: string }>().outRefundNo);
  });

  it('CLOSED at WeChat → REFUND_FAILED, the payment REFUND_FAILED, an alert', async () => {
    const p = await paidPayment(300);
    emulator().setRefundOutcome('CLOSED');
    const { outRefundNo } = (await post({ paymentOrderId: p.id, amount: 300 }, 'cl-1')).json<{ outRefundNo: string }>();
    const row = await ended(outRefundNo, 'REFUND_FAILED');
    await t.callbacksHandled(outRefundNo);
    expect(row).toMatchObject({ wechatStatus: 'CLOSED', failReason: 'closed at WeChat' });
    expect(await payment(p.id)).toMatchObject({ payStatus: 'REFUND_FAILED', refundedAmount: 0 });
    expect(t.alerts('refund-failed').some((a) => a.outRefundNo === outRefundNo)).toBe(true);
    expect(await audits(outRefundNo, BusinessSource.REFUND)).toHaveLength(2);
  });

  it('a REFUND.SUCCESS callback that arrives while the create call gets no answer refunds once; the retry changes nothing', async () => {
    const p = await paidPayment(500);
    emulator().inject({ kind: 'drop-after-commit' }, { route: 'refund' });
    const { outRefundNo } = (await post({ paymentOrderId: p.id, amount: 500 }, 'dc-1')).json<{ outRefundNo: string }>();
    await ended(outRefundNo);
    const [callback] = await t.callbacksHandled(outRefundNo);
    expect(callback?.eventType).toBe('REFUND.SUCCESS');
    expect(await t.jobFinished(refundJobId(outRefundNo))).toMatchObject({ status: 'skipped' });
    expect(await payment(p.id)).toMatchObject({ payStatus: 'REFUNDED', refundedAmount: 500 });
    expect(emulator().ledger().byOrder.get(p.outTradeNo)).toBe(500);
    expect(await audits(outRefundNo, BusinessSource.REFUND)).toHaveLength(2);
  });

  it('two refund-submit runs at once refund once', async () => {
    const p = await paidPayment(700);
    const { refund: r } = await requestRefund(t.deps(), { client: 'crm', idempotencyKey: 'twice', paymentOrderId: p.id, amount: 700 });
    emulator().inject({ kind: 'timeout', ms: 300 }, { route: 'refund', times: 2 });
    const calls = emulator().refundCalls;
    const jobs = await Promise.all(['a', 'b'].map((s) => t.h.hub.enqueue(refundSubmit, { outRefundNo: r.outRefundNo }, { jobId: `twice-${s}` })));
    await Promise.all(jobs.map((j) => t.jobFinished(j.id)));
    await ended(r.outRefundNo);
    expect(emulator().refundCalls - calls).toBe(2);
    expect(emulator().ledger().byOrder.get(p.outTradeNo)).toBe(700);
    expect(await payment(p.id)).toMatchObject({ payStatus: 'REFUNDED', refundedAmount: 700 });
    expect((await audits(r.outRefundNo, BusinessSource.REFUND)).filter((a) => a.operationType === 2)).toHaveLength(1);
  });

  it('the sweeper enqueues a REFUNDING row whose job is gone; Redis down at request time answers 503 and loses nothing', async () => {
    const p = await paidPayment(200);
    // A route whose queue store is gone: the row is written, the enqueue fails.
    const deadRedis = await testRedis('producer');
    const deadQueues = new QueueSet(deadRedis, t.h.hub.prefix);
    const api = Fastify();
    registerRefundRoutes(api, { db: t.h.hub.db, queues: deadQueues, apiTokens: [{ client: 'crm', token: TOKEN }], log: t.h.hub.log, now: () => new Date(Date.now() - 2 * 60_000) });
    await api.ready();
    deadRedis.disconnect();
    const res = await api.inject({ method: 'POST', url: '/api/v1/refunds', headers: { authorization: `Bearer ${TOKEN}`, 'idempotency-key': 'sw-1' }, payload: { paymentOrderId: p.id, amount: 200 } });
    await api.close();
    await deadQueues.close().catch(() => undefined);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    const { outRefundNo } = res.json<{ outRefundNo: string }>();
    expect(await refund(outRefundNo)).toMatchObject({ status: 'REFUNDING', wechatStatus: null });
    expect(await t.h.hub.queues.get('refunds').getJob(refundJobId(outRefundNo))).toBeUndefined();

    const { hub } = t.h;
    const restored = await sweepOnce({ db: hub.db, redis: hub.redis, queues: hub.queues, registry, log: hub.log, now: () => new Date() }, refundSweeper);
    expect(restored).toBe(1);
    await ended(outRefundNo);
    expect(await sweepOnce({ db: hub.db, redis: hub.redis, queues: hub.queues, registry, log: hub.log, now: () => new Date() }, refundSweeper)).toBe(0);
    expect(emulator().ledger().byOrder.get(p.outTradeNo)).toBe(200);
  });

  it('the sweeper retries a refund job that failed for good; refund-sync resubmits a refund WeChat never received', async () => {
    const { hub } = t.h;
    const sweepDeps = { db: hub.db, redis: hub.redis, queues: hub.queues, registry, log: hub.log, now: () => new Date() };
    const p = await paidPayment(150);
    const { refund: r } = await requestRefund(t.deps(() => new Date(Date.now() - 2 * 60_000)), { client: 'crm', idempotencyKey: 'failed-job', paymentOrderId: p.id, amount: 150 });
    emulator().inject({ kind: 'vendor', status: 500, code: 'SYSTEM_ERROR' }, { route: 'refund' });
    // A job whose attempts are spent: added with one attempt so it fails at the first SYSTEM_ERROR.
    await hub.queues.get('refunds').add(refundSubmit.name, { outRefundNo: r.outRefundNo }, { jobId: refundJobId(r.outRefundNo), attempts: 1 });
    await until('refund job failed', async () => (await hub.queues.get('refunds').getJobState(refundJobId(r.outRefundNo))) === 'failed', 15_000);
    expect(await refund(r.outRefundNo)).toMatchObject({ status: 'REFUNDING', wechatStatus: null });
    expect(await sweepOnce(sweepDeps, refundSweeper)).toBe(1);
    await ended(r.outRefundNo);

    const q = await paidPayment(160);
    const { refund: lost } = await requestRefund(t.deps(() => new Date(Date.now() - 10 * 60_000)), { client: 'crm', idempotencyKey: 'lost-submit', paymentOrderId: q.id, amount: 160 });
    const sync = await hub.enqueue(refundSync, { batchSize: 100 }, { jobId: 'refund-sync-lost' });
    expect(await t.jobFinished(sync.id)).toMatchObject({ status: 'done', result: { queried: 1, resubmitted: 1 } });
    await ended(lost.outRefundNo);
    expect(emulator().ledger().byOrder.get(q.outTradeNo)).toBe(160);
  });
});

describe('refunds WeChat answers PROCESSING first: refund-sync and the decaying schedule', () => {
  const t = refundHarness(__filename, { refundProcessingMs: 500 });
  const { emulator, post, refund, payment, ended, paidPayment } = t;

  it('polls young refunds every run, then every 5, 30 and 180 minutes', () => {
    const created = new Date('2026-01-01T00:00:00Z');
    const at = (minutes: number): Date => new Date(created.getTime() + minutes * 60_000);
    expect([0, 1, 2, 3, 4].every((m) => pollDue(created, at(m)))).toBe(true);
    expect([5, 6, 7, 10].map((m) => pollDue(created, at(m)))).toEqual([true, false, false, true]);
    expect([60, 75, 90].map((m) => pollDue(created, at(m)))).toEqual([true, false, true]);
    expect([24 * 60, 24 * 60 + 30, 24 * 60 + 180].map((m) => pollDue(created, at(m)))).toEqual([true, false, true]);
  });

  it('a refund left PROCESSING (its callback never lands) is found REFUNDED by refund-sync', async () => {
    emulator().setNotifyUrl(TEST_MCHID, 'http://127.0.0.1:9/nowhere');
    try {
      const p = await paidPayment(400);
      const { outRefundNo } = (await post({ paymentOrderId: p.id, amount: 400 }, 'ps-1')).json<{ outRefundNo: string }>();
      await until('refund PROCESSING', async () => (await refund(outRefundNo)).wechatStatus === 'PROCESSING', 15_000);
      expect((await refund(outRefundNo)).status).toBe('REFUNDING');
      await until('WeChat finished it', () => emulator().refund(outRefundNo)?.status === 'SUCCESS', 10_000);
      await emulator().callbacksSettled();
      expect((await refund(outRefundNo)).status).toBe('REFUNDING');

      const job = await t.h.hub.enqueue(refundSync, { batchSize: 100 }, { jobId: 'refund-sync-test-1' });
      expect(await t.jobFinished(job.id)).toMatchObject({ status: 'done', result: { queried: 1, applied: { refunded: 1 } } });
      const row = await ended(outRefundNo);
      expect(row).toMatchObject({ wechatStatus: 'SUCCESS' });
      expect(await payment(p.id)).toMatchObject({ payStatus: 'REFUNDED', refundedAmount: 400 });
    } finally {
      emulator().setNotifyUrl(TEST_MCHID, t.h.webhook);
    }
  });

  it('a REFUND.SUCCESS callback after PROCESSING refunds once', async () => {
    const p = await paidPayment(250);
    const { outRefundNo } = (await post({ paymentOrderId: p.id, amount: 250 }, 'pc-1')).json<{ outRefundNo: string }>();
    await ended(outRefundNo);
    await t.callbacksHandled(outRefundNo);
    expect(await payment(p.id)).toMatchObject({ payStatus: 'REFUNDED', refundedAmount: 250 });
  });

  it('ABNORMAL → REFUND_FAILED with an alert', async () => {
    const p = await paidPayment(250);
    emulator().setRefundOutcome('ABNORMAL');
    const { outRefundNo } = (await post({ paymentOrderId: p.id, amount: 250 }, 'ab-1')).json<{ outRefundNo: string }>();
    const row = await ended(outRefundNo, 'REFUND_FAILED');
    expect(row).toMatchObject({ wechatStatus: 'ABNORMAL', failReason: expect.stringMatching(/^ABNORMAL/) });
    expect(t.alerts('refund-abnormal').some((a) => a.outRefundNo === outRefundNo)).toBe(true);
    // Still counted: WeChat may yet pay it out, so only the rest is refundable.
    expect((await post({ paymentOrderId: p.id, amount: 1 }, 'ab-2')).json()).toMatchObject({ error: 'REFUND_EXCEEDS_PAID' });
    expect(await payment(p.id)).toMatchObject({ payStatus: 'REFUND_FAILED', refundedAmount: 0 });

    // An abnormal refund (to a bank card) pays it out later: SUCCESS still applies, once; nothing older moves it back.
    const ctx = t.deps();
    const success = { out_refund_no: outRefundNo, refund_id: row.refundId ?? undefined, status: 'SUCCESS' as const, amount: { refund: 250, total: 250 } };
    expect(await applyWechatRefund(ctx, TEST_MCHID, success, 'NOTIFICATION')).toMatchObject({ outcome: 'refunded' });
    expect(await applyWechatRefund(ctx, TEST_MCHID, success, 'SYNC')).toMatchObject({ outcome: 'unchanged' });
    for (const status of ['PROCESSING', 'ABNORMAL', 'CLOSED'] as const) {
      expect(await applyWechatRefund(ctx, TEST_MCHID, { out_refund_no: outRefundNo, status }, 'SYNC')).toMatchObject({ outcome: 'unchanged' });
    }
    expect(await refund(outRefundNo)).toMatchObject({ status: 'REFUNDED', wechatStatus: 'SUCCESS', failReason: null });
    expect(await payment(p.id)).toMatchObject({ payStatus: 'REFUNDED', refundedAmount: 250 });
  });
});
