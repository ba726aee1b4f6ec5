import { createCipheriv, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { AndroidOrder, AndroidOrderStatus } from '../../entities/app/android-order.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { registry } from '../../jobs';
import { wechatPayCloseExpired } from '../../jobs/wechat-pay/wechat-pay-close-expired.job';
import { wechatPayHandleNotification } from '../../jobs/wechat-pay/wechat-pay-handle-notification.job';
import { wechatPaySyncOrder } from '../../jobs/wechat-pay/wechat-pay-sync-order.job';
import { wechatPaySyncStuckOrders } from '../../jobs/wechat-pay/wechat-pay-sync-stuck-orders.job';
import { applyWechatTransaction } from '../../jobs/wechat-pay/apply-wechat-transaction';
import { auditAt, BusinessSource } from '../../entities/dms/audit';
import type { Enqueueable } from '../../jobs/context';
import { buildApp } from '../../server/app';
import { payNotifySweeper } from '../../workers/pay-notify-sweeper';
import { sweepOnce } from '../../workers/sweeper';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { until } from '../support/wait';
import { TEST_APPID, TEST_MCHID } from '../support/wechat-pay';

const TABLES = [PayNotifyLog, PaymentOrder, EventOrder, GroupBuyEventOrder, AndroidOrder, HubReconciliationItem, DmsBusinessLog];
const MINUTE = 60_000;

describe('WeChat Pay payments: callbacks, sync and close applied to MariaDB', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  let events: QueueEvents;
  let seq = 0;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { wechatPay: { callbackRetryDelaysMs: [100, 200, 400] } });
    app = await buildApp({ config: hub.config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry, integrations: hub.integrations });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    emulator().setNotifyUrl(TEST_MCHID, `http://127.0.0.1:${port}/webhooks/wechat-pay/${TEST_MCHID}`);
    events = await testQueueEvents('payments', hub.prefix);
    hub.startWorkers(['payments']);
  });
  afterAll(async () => {
    await emulator().callbacksSettled();
    await events.close();
    await app.close();
    await clearTables(hub.db, TABLES);
    await hub.close();
  });
  beforeEach(() => clearTables(hub.db, TABLES));

  function emulator() {
    if (!hub.wechatPay) throw new Error('no emulator');
    return hub.wechatPay.emulator;
  }
  const newNo = (prefix: string): string => `${prefix}${Date.now()}${++seq}`;

  async function insertPayment(o: { amount: number; createdTime?: Date; timeExpire?: Date; business?: 'EVENT' | 'GROUP_BUY'; appid?: string }): Promise<PaymentOrder> {
    const at = o.createdTime ?? new Date();
    const outTradeNo = newNo('P');
    const repo = hub.db.getRepository(PaymentOrder);
    await repo.insert({ businessType: o.business ?? 'EVENT', mchid: TEST_MCHID, appid: o.appid ?? null, outTradeNo, amount: o.amount, payStatus: 'UNPAID', timeExpire: o.timeExpire ?? null, createdTime: at, updatedTime: at });
    const payment = await repo.findOneByOrFail({ outTradeNo });
    const order = { paymentOrderId: payment.id, pamentStatus: 'UNPAID' as const, status: 'WAITING_PAY' as const, createdTime: at, updatedTime: at };
    if ((o.business ?? 'EVENT') === 'EVENT') await hub.db.getRepository(EventOrder).insert(order);
    else await hub.db.getRepository(GroupBuyEventOrder).insert(order);
    return payment;
  }
  const payment = (outTradeNo: string) => hub.db.getRepository(PaymentOrder).findOneByOrFail({ outTradeNo });
  const auditCount = (businessNo: string, source: number) => hub.db.getRepository(DmsBusinessLog).countBy({ businessNo, businessSource: source });
  const notifyRows = (outTradeNo: string) => hub.db.getRepository(PayNotifyLog).find({ where: { outTradeNo }, order: { id: 'ASC' } });

  async function run(def: Enqueueable, payload: unknown): Promise<unknown> {
    const { id } = await hub.enqueue(def, payload as never);
    return (await hub.queues.get('payments').getJob(id))?.waitUntilFinished(events, 20_000);
  }
  /** Every delivered callback of the order handled by its job. */
  async function handled(outTradeNo: string, count = 1): Promise<PayNotifyLog[]> {
    await emulator().callbacksSettled();
    await until(`${count} handled callbacks of ${outTradeNo}`, async () => (await notifyRows(outTradeNo)).filter((r) => r.handled === 1).length >= count, 15_000);
    return notifyRows(outTradeNo);
  }
  const ctx = () => ({ db: hub.db, log: hub.log, now: () => new Date(), audit: auditAt(() => new Date()), enqueue: hub.enqueue, config: hub.config });

  it('applies a paid event order once: payment, business order and audit rows; duplicates and late states change nothing', async () => {
    const p = await insertPayment({ amount: 1_000 });
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: p.outTradeNo, total: 1_000 });
    const paid = emulator().pay(p.outTradeNo, { payerTotal: 900 });
    await handled(p.outTradeNo);

    const after = await payment(p.outTradeNo);
    expect(after).toMatchObject({ payStatus: 'PAY_SUCCESS', transactionId: paid.transaction_id, payerTotal: 900, tradeState: 'SUCCESS' });
    expect(after.successTime?.getTime()).toBe(new Date(paid.success_time ?? '').getTime());
    const order = await hub.db.getRepository(EventOrder).findOneByOrFail({ paymentOrderId: p.id });
    expect(order).toMatchObject({ pamentStatus: 'PAY_SUCCESS', status: 'JOINED' });
    expect(await auditCount(p.outTradeNo, BusinessSource.PAYMENT)).toBe(1);
    expect(await auditCount(order.id, BusinessSource.EVENT_ORDER)).toBe(1);

    // WeChat delivers it again (a new notification of the same payment), and a late CLOSED arrives from a query.
    await emulator().notify(p.outTradeNo);
    const rows = await handled(p.outTradeNo, 2);
    expect(rows).toHaveLength(2);
    const late = await applyWechatTransaction(ctx(), TEST_MCHID, { out_trade_no: p.outTradeNo, trade_state: 'CLOSED' }, 'SYNC');
    expect(late.outcome).toBe('unchanged');
    expect(await payment(p.outTradeNo)).toEqual(after);
    expect(await hub.db.getRepository(EventOrder).findOneByOrFail({ id: order.id })).toEqual(order);
    expect(await auditCount(p.outTradeNo, BusinessSource.PAYMENT)).toBe(1);
  });

  it('applies a paid group-buy order', async () => {
    const p = await insertPayment({ amount: 500, business: 'GROUP_BUY' });
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: p.outTradeNo, total: 500 });
    emulator().pay(p.outTradeNo);
    await handled(p.outTradeNo);
    expect(await payment(p.outTradeNo)).toMatchObject({ payStatus: 'PAY_SUCCESS', payerTotal: 500 });
    const order = await hub.db.getRepository(GroupBuyEventOrder).findOneByOrFail({ paymentOrderId: p.id });
    expect(order).toMatchObject({ pamentStatus: 'PAY_SUCCESS', status: 'JOINED' });
    expect(await auditCount(order.id, BusinessSource.GROUP_BUY)).toBe(1);
  });

  it('applies a paid Android order by oid', async () => {
    const oid = newNo('A');
    await hub.db.getRepository(AndroidOrder).insert({ oid, uid: 7, productId: 3, productPrice: 600, orderAmount: 600, status: AndroidOrderStatus.UNPAID, createdAt: new Date() });
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: oid, total: 600 });
    const paid = emulator().pay(oid, { payerTotal: 550 });
    await handled(oid);
    const row = await hub.db.getRepository(AndroidOrder).findOneByOrFail({ oid });
    expect(row).toMatchObject({ status: AndroidOrderStatus.PAID, tid: paid.transaction_id, paymentAmount: 550, tradeType: 'JSAPI', bankType: expect.any(String), openId: expect.any(String) });
    expect(row.payTime?.getTime()).toBe(new Date(paid.success_time ?? '').getTime());
    expect(await auditCount(oid, BusinessSource.APP_ORDER)).toBe(1);
  });

  it('does not apply an amount that differs from ours: one reconciliation item and an alert, however often delivered', async () => {
    const p = await insertPayment({ amount: 1_000 });
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: p.outTradeNo, total: 1 });
    const paid = emulator().pay(p.outTradeNo);
    await handled(p.outTradeNo);
    await emulator().notify(p.outTradeNo);
    const rows = await handled(p.outTradeNo, 2);
    expect(rows.every((r) => /amount/.test(r.error ?? ''))).toBe(true);
    expect(await payment(p.outTradeNo)).toMatchObject({ payStatus: 'UNPAID', transactionId: null });
    const items = await hub.db.getRepository(HubReconciliationItem).findBy({ outTradeNo: p.outTradeNo });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ runId: null, source: 'NOTIFICATION', kind: 'AMOUNT_MISMATCH', wechatAmount: '1', localAmount: '1000', transactionId: paid.transaction_id, localTable: 'payment_order' });
    expect(hub.logText().match(new RegExp(`"alert":"payment-amount-mismatch"[^\\n]*${p.outTradeNo}`, 'g'))).toHaveLength(1);
  });

  it("does not apply a payment made in another app than the order's: one reconciliation item and an alert, however often delivered", async () => {
    const otherApp = 'wx00000000000000ff';
    const p = await insertPayment({ amount: 500, appid: otherApp });
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: p.outTradeNo, total: 500 });
    const paid = emulator().pay(p.outTradeNo);
    await handled(p.outTradeNo);
    await emulator().notify(p.outTradeNo);
    const rows = await handled(p.outTradeNo, 2);
    expect(rows.every((r) => /appid/.test(r.error ?? ''))).toBe(true);
    expect(await payment(p.outTradeNo)).toMatchObject({ payStatus: 'UNPAID', transactionId: null });
    expect(await hub.db.getRepository(EventOrder).findOneByOrFail({ paymentOrderId: p.id })).toMatchObject({ pamentStatus: 'UNPAID', status: 'WAITING_PAY' });
    expect(await hub.db.getRepository(HubReconciliationItem).findBy({ outTradeNo: p.outTradeNo })).toEqual([
      expect.objectContaining({ runId: null, source: 'NOTIFICATION', kind: 'APPID_MISMATCH', wechatStatus: TEST_APPID, localStatus: otherApp, transactionId: paid.transaction_id, localTable: 'payment_order' }),
    ]);
    expect(hub.logText().match(new RegExp(`"alert":"payment-appid-mismatch"[^\\n]*${p.outTradeNo}`, 'g'))).toHaveLength(1);
    // A query answers the same: not applied either, nothing recorded twice.
    expect(await run(wechatPaySyncOrder, { mchid: TEST_MCHID, outTradeNo: p.outTradeNo })).toMatchObject({ result: { outcome: 'appid-mismatch' } });
    expect(await auditCount(p.outTradeNo, BusinessSource.PAYMENT)).toBe(0);

    // An order of the app WeChat reports is paid as ever.
    const mine = await insertPayment({ amount: 500, appid: TEST_APPID });
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: mine.outTradeNo, total: 500 });
    emulator().pay(mine.outTradeNo);
    await handled(mine.outTradeNo);
    expect(await payment(mine.outTradeNo)).toMatchObject({ payStatus: 'PAY_SUCCESS' });
  });

  it('records a payment of an order it does not know, without crashing', async () => {
    const outTradeNo = newNo('U');
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: outTradeNo, total: 300 });
    emulator().pay(outTradeNo);
    const [row] = await handled(outTradeNo);
    expect(row).toMatchObject({ handled: 1, error: expect.stringMatching(/unknown out_trade_no/) });
    expect(hub.logText()).toMatch(new RegExp(`"alert":"payment-unknown-order"[^\\n]*${outTradeNo}`));
  });

  it('finds a payment whose callback never came: sync-stuck-orders → sync-order → paid', async () => {
    const lost = await insertPayment({ amount: 200, createdTime: new Date(Date.now() - 10 * MINUTE) });
    const young = await insertPayment({ amount: 200 });
    const ancient = await insertPayment({ amount: 200, createdTime: new Date(Date.now() - 3 * 24 * 60 * MINUTE) });
    for (const p of [lost, young, ancient]) emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: p.outTradeNo, total: 200 });
    for (const p of [lost, young, ancient]) emulator().pay(p.outTradeNo, { notify: false });
    const oid = newNo('A');
    await hub.db.getRepository(AndroidOrder).insert({ oid, uid: 1, productId: 1, productPrice: 300, orderAmount: 300, status: 1, createdAt: new Date(Date.now() - 6 * MINUTE) });
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: oid, total: 300 });
    emulator().pay(oid, { notify: false });

    expect(await run(wechatPaySyncStuckOrders, { batchSize: 1 })).toEqual({ status: 'done', result: { payments: 1, android: 1, enqueued: 2 } });
    await until('the lost payments applied', async () => (await payment(lost.outTradeNo)).payStatus === 'PAY_SUCCESS' && (await hub.db.getRepository(AndroidOrder).findOneByOrFail({ oid })).status === 2, 15_000);
    expect((await hub.db.getRepository(EventOrder).findOneByOrFail({ paymentOrderId: lost.id })).status).toBe('JOINED');
    expect((await payment(young.outTradeNo)).payStatus).toBe('UNPAID');
    expect((await payment(ancient.outTradeNo)).payStatus).toBe('UNPAID');
  });

  it('closes expired unpaid orders at WeChat and fails them; one paid meanwhile is applied as paid', async () => {
    const expired = await insertPayment({ amount: 100, timeExpire: new Date(Date.now() - MINUTE) });
    const paidLate = await insertPayment({ amount: 100, timeExpire: new Date(Date.now() - MINUTE) });
    const neverReached = await insertPayment({ amount: 100, timeExpire: new Date(Date.now() - MINUTE) });
    const current = await insertPayment({ amount: 100, timeExpire: new Date(Date.now() + 10 * MINUTE) });
    for (const p of [expired, paidLate, current]) emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: p.outTradeNo, total: 100 });
    emulator().pay(paidLate.outTradeNo, { notify: false });

    const result = (await run(wechatPayCloseExpired, { batchSize: 2 })) as { result: { seen: number; outcomes: Record<string, number> } };
    expect(result.result).toMatchObject({ seen: 3, outcomes: { failed: 2, paid: 1 } });
    expect(emulator().order(expired.outTradeNo)?.trade_state).toBe('CLOSED');
    expect(await payment(expired.outTradeNo)).toMatchObject({ payStatus: 'PAY_FAILED', tradeState: 'CLOSED' });
    expect(await hub.db.getRepository(EventOrder).findOneByOrFail({ paymentOrderId: expired.id })).toMatchObject({ pamentStatus: 'PAY_FAILED', status: 'CANCELLED' });
    expect(await payment(neverReached.outTradeNo)).toMatchObject({ payStatus: 'PAY_FAILED' });
    expect(await payment(paidLate.outTradeNo)).toMatchObject({ payStatus: 'PAY_SUCCESS' });
    expect(await hub.db.getRepository(EventOrder).findOneByOrFail({ paymentOrderId: paidLate.id })).toMatchObject({ status: 'JOINED' });
    expect(await payment(current.outTradeNo)).toMatchObject({ payStatus: 'UNPAID' });
    expect(emulator().order(current.outTradeNo)?.trade_state).toBe('NOTPAY');
    expect(await run(wechatPayCloseExpired, {})).toMatchObject({ result: { seen: 0 } });
  });

  /**
   * A verified row as the route would have stored it, for a payment WeChat made without the callback
   * reaching us: the envelope WeChat sends, its resource (the order as WeChat reports it) encrypted
   * here with the merchant's APIv3 key, as node:crypto does it, independently of the client.
   */
  async function storedNotification(outTradeNo: string, createdTime: Date): Promise<string> {
    const tx = await hub.wechatPay?.client.queryOrder(outTradeNo);
    const apiV3Key = hub.wechatPay?.credentials.apiV3Key;
    if (!tx || !apiV3Key) throw new Error('no order at the emulator');
    const nonce = randomBytes(6).toString('hex');
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
    cipher.setAAD(Buffer.from('transaction', 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(JSON.stringify(tx), 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
    const notifyId = `n-${outTradeNo}`;
    const rawBody = JSON.stringify({
      id: notifyId, create_time: '2026-11-23T10:00:00+08:00', resource_type: 'encrypt-resource', event_type: 'TRANSACTION.SUCCESS', summary: '支付成功',
      resource: { original_type: 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext, associated_data: 'transaction', nonce },
    });
    const inserted = await hub.db.getRepository(PayNotifyLog).insert({
      channel: 'WECHAT', merchant: TEST_MCHID, notifyId, eventType: 'TRANSACTION.SUCCESS', outTradeNo,
      outRefundNo: null, transactionId: tx.transaction_id ?? null, rawBody, verified: 1, handled: 0, error: null, createdTime, updatedTime: createdTime,
    });
    return String((inserted.identifiers[0] as { id: string }).id);
  }

  it('the sweeper enqueues a verified, unhandled row whose job is gone', async () => {
    const p = await insertPayment({ amount: 100 });
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: p.outTradeNo, total: 100 });
    emulator().pay(p.outTradeNo, { notify: false });
    const id = await storedNotification(p.outTradeNo, new Date(Date.now() - 2 * MINUTE));
    const deps = { db: hub.db, redis: hub.redis, queues: hub.queues, registry, log: hub.log, now: () => new Date() };
    expect(await sweepOnce(deps, payNotifySweeper)).toBe(1);
    await until('the swept notification handled', async () => (await hub.db.getRepository(PayNotifyLog).findOneByOrFail({ id })).handled === 1, 15_000);
    expect((await payment(p.outTradeNo)).payStatus).toBe('PAY_SUCCESS');
    expect(await sweepOnce(deps, payNotifySweeper)).toBe(0);
  });

  it('applies once when the notification job runs twice at once', async () => {
    const p = await insertPayment({ amount: 100 });
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: p.outTradeNo, total: 100 });
    emulator().pay(p.outTradeNo, { notify: false });
    const id = await storedNotification(p.outTradeNo, new Date());
    const results = (await Promise.all([1, 2, 3].map(() => run(wechatPayHandleNotification, { notifyLogId: id })))) as { status: string; result?: { outcome: string } }[];
    const outcomes = results.map((r) => r.result?.outcome ?? r.status).sort();
    expect(outcomes.filter((o) => o === 'paid')).toHaveLength(1);
    expect(outcomes.filter((o) => o !== 'paid').every((o) => o === 'already-handled' || o === 'skipped')).toBe(true);
    expect(await auditCount(p.outTradeNo, BusinessSource.PAYMENT)).toBe(1);
    expect(await hub.db.getRepository(DmsBusinessLog).countBy({ businessSource: BusinessSource.EVENT_ORDER })).toBe(1);
  });

  it('the sweeper retries a notification job that failed for good once the cause is fixed', async () => {
    const p = await insertPayment({ amount: 100 });
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: p.outTradeNo, total: 100 });
    emulator().pay(p.outTradeNo, { notify: false });
    const id = await storedNotification(p.outTradeNo, new Date(Date.now() - 2 * MINUTE));
    // A merchant the hub cannot load (its wx_pay_config row missing): the job fails permanently.
    await hub.db.getRepository(PayNotifyLog).update({ id }, { merchant: '1999999999' });
    const { id: jobId } = await hub.enqueue(wechatPayHandleNotification, { notifyLogId: id }, { jobId: `wechat-notify-${id}` });
    await expect((await hub.queues.get('payments').getJob(jobId))?.waitUntilFinished(events, 20_000)).rejects.toThrow(/UNKNOWN_MERCHANT/);

    await hub.db.getRepository(PayNotifyLog).update({ id }, { merchant: TEST_MCHID });
    const deps = { db: hub.db, redis: hub.redis, queues: hub.queues, registry, log: hub.log, now: () => new Date() };
    expect(await sweepOnce(deps, payNotifySweeper)).toBe(1);
    await until('the retried notification handled', async () => (await hub.db.getRepository(PayNotifyLog).findOneByOrFail({ id })).handled === 1, 15_000);
    expect((await payment(p.outTradeNo)).payStatus).toBe('PAY_SUCCESS');
  });

  it('a failed payment found by sync fails the order; USERPAYING marks it processing', async () => {
    const failed = await insertPayment({ amount: 100 });
    const paying = await insertPayment({ amount: 100 });
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: failed.outTradeNo, total: 100 });
    emulator().failPayment(failed.outTradeNo);
    expect(await run(wechatPaySyncOrder, { mchid: TEST_MCHID, outTradeNo: failed.outTradeNo })).toMatchObject({ result: { tradeState: 'PAYERROR', outcome: 'failed' } });
    expect(await payment(failed.outTradeNo)).toMatchObject({ payStatus: 'PAY_FAILED', tradeState: 'PAYERROR' });
    expect(await hub.db.getRepository(EventOrder).findOneByOrFail({ paymentOrderId: failed.id })).toMatchObject({ pamentStatus: 'PAY_FAILED', status: 'CANCELLED' });

    const processing = await applyWechatTransaction(ctx(), TEST_MCHID, { out_trade_no: paying.outTradeNo, trade_state: 'USERPAYING' }, 'SYNC');
    expect(processing.outcome).toBe('processing');
    expect((await payment(paying.outTradeNo)).payStatus).toBe('PAY_PROCESSING');
    const notPay = await applyWechatTransaction(ctx(), TEST_MCHID, { out_trade_no: paying.outTradeNo, trade_state: 'NOTPAY' }, 'SYNC');
    expect(notPay.outcome).toBe('unchanged');
    expect((await payment(paying.outTradeNo)).payStatus).toBe('PAY_PROCESSING');
  });

  it('applies as paid an order closed here that WeChat charged anyway; its cancelled business order stays for ops', async () => {
    const p = await insertPayment({ amount: 100 });
    await hub.db.getRepository(PaymentOrder).update({ id: p.id }, { payStatus: 'PAY_FAILED', tradeState: 'CLOSED' });
    await hub.db.getRepository(EventOrder).update({ paymentOrderId: p.id }, { pamentStatus: 'PAY_FAILED', status: 'CANCELLED' });
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: p.outTradeNo, total: 100 });
    emulator().pay(p.outTradeNo);
    await handled(p.outTradeNo);
    expect(await payment(p.outTradeNo)).toMatchObject({ payStatus: 'PAY_SUCCESS', tradeState: 'SUCCESS' });
    expect(await hub.db.getRepository(EventOrder).findOneByOrFail({ paymentOrderId: p.id })).toMatchObject({ pamentStatus: 'PAY_SUCCESS', status: 'CANCELLED' });
    expect(hub.logText()).toMatch(new RegExp(`"outTradeNo":"${p.outTradeNo}"[^\\n]*payment closed here was paid at WeChat`));
  });

  it('two applies of one payment at once change it once', async () => {
    const p = await insertPayment({ amount: 100 });
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: p.outTradeNo, total: 100 });
    emulator().pay(p.outTradeNo, { notify: false });
    const tx = await hub.wechatPay?.client.queryOrder(p.outTradeNo);
    if (!tx) throw new Error('no order at the emulator');
    const outcomes = await Promise.all([1, 2, 3, 4].map(() => applyWechatTransaction(ctx(), TEST_MCHID, tx, 'SYNC')));
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['paid', 'unchanged', 'unchanged', 'unchanged']);
    expect(await auditCount(p.outTradeNo, BusinessSource.PAYMENT)).toBe(1);
  });

  it('records a refund notification as handled, for the refund jobs, without touching the payment', async () => {
    const p = await insertPayment({ amount: 100 });
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: p.outTradeNo, total: 100 });
    emulator().pay(p.outTradeNo);
    await handled(p.outTradeNo);
    const refundNo = newNo('R');
    emulator().recordRefund({ out_trade_no: p.outTradeNo, out_refund_no: refundNo, refund: 40, notify: true });
    const rows = await handled(p.outTradeNo, 2);
    expect(rows[1]).toMatchObject({ eventType: 'REFUND.SUCCESS', outRefundNo: refundNo, handled: 1, error: expect.stringMatching(/refund/) });
    expect(await payment(p.outTradeNo)).toMatchObject({ payStatus: 'PAY_SUCCESS', refundedAmount: 0 });
  });
});
