import type { QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { AndroidOrder } from '../../entities/app/android-order.entity';
import { HubReconciliationBillRow } from '../../entities/hub/hub-reconciliation-bill-row.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { HubReconciliationRun } from '../../entities/hub/hub-reconciliation-run.entity';
import { PaymentOrder, type PayStatus } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { registry } from '../../jobs';
import { wechatPayReconcileBill } from '../../jobs/wechat-pay/wechat-pay-reconcile-bill.job';
import { reconcileLockName } from '../../jobs/reconcile-lock';
import { latestReadyBillDate, type ReconcileSummary } from '../../jobs/wechat-pay/wechat-pay-reconcile-bill.job';
import { beijingDate, parseBeijing } from '../../lib/time';
import { buildApp } from '../../server/app';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { until } from '../support/wait';
import { TEST_MCHID } from '../support/wechat-pay';

jest.setTimeout(60_000);

const TABLES = [PaymentOrder, AndroidOrder, RefundOrder, HubReconciliationRun, HubReconciliationItem, HubReconciliationBillRow];
/** A Beijing date `n` days back: its bill is ready at the emulator (after 10:00 of the next day). */
const daysAgo = (n: number): string => beijingDate(new Date(Date.now() - n * 86_400_000));
const at = (date: string, time: string): Date => parseBeijing(`${date} ${time}`);

describe('wechat-pay-reconcile-bill', () => {
  let hub: TestHub;
  let events: QueueEvents;
  let seq = 0;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { wechatPay: {} });
    events = await testQueueEvents('reconcile', hub.prefix);
    hub.startWorkers(['reconcile', 'payments']);
  });
  afterAll(async () => {
    await events.close();
    await clearTables(hub.db, TABLES);
    await hub.close();
  });
  beforeEach(() => clearTables(hub.db, TABLES));

  const emulator = () => {
    if (!hub.wechatPay) throw new Error('no emulator');
    return hub.wechatPay.emulator;
  };
  const no = (tag: string): string => `RC${tag}${Date.now()}${++seq}`;

  /** An order paid at WeChat at `when`; its transaction id. */
  function paidAtWechat(outTradeNo: string, total: number, when: Date): string {
    emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: outTradeNo, total, created: new Date(when.getTime() - 60_000) });
    return emulator().pay(outTradeNo, { at: when, notify: false }).transaction_id ?? '';
  }

  async function localPayment(outTradeNo: string, amount: number, o: { status?: PayStatus; paidAt?: Date; transactionId?: string } = {}): Promise<void> {
    const created = new Date((o.paidAt ?? new Date()).getTime() - 60_000);
    await hub.db.getRepository(PaymentOrder).insert({
      businessType: 'MALL', mchid: TEST_MCHID, outTradeNo, amount, payStatus: o.status ?? 'PAY_SUCCESS',
      successTime: o.paidAt ?? null, transactionId: o.transactionId ?? null, createdTime: created, updatedTime: created,
    });
  }

  async function localRefund(outTradeNo: string, outRefundNo: string, amount: number, succeeded: Date): Promise<void> {
    await hub.db.getRepository(RefundOrder).insert({
      businessType: 'MALL', outTradeNo, outRefundNo, amount, total: amount, status: 'REFUNDED', wechatStatus: 'SUCCESS',
      successTime: succeeded, createdTime: succeeded, updatedTime: succeeded,
    });
  }

  async function reconcile(billDate: string): Promise<ReconcileSummary> {
    const { id } = await hub.enqueue(wechatPayReconcileBill, { mchid: TEST_MCHID, billDate });
    const job = await hub.queues.get('reconcile').getJob(id);
    const result = (await job?.waitUntilFinished(events, 45_000)) as { status: string; result: ReconcileSummary };
    expect(result.status).toBe('done');
    return result.result;
  }

  const items = async (runId: string): Promise<HubReconciliationItem[]> =>
    hub.db.getRepository(HubReconciliationItem).find({ where: { runId }, order: { id: 'ASC' } });
  const stagingRows = (): Promise<number> => hub.db.getRepository(HubReconciliationBillRow).count();

  it('reconciles a day with payments of both tables and a refund: zero discrepancies, totals in fen', async () => {
    const day = daysAgo(20);
    const [p1, p2, a1, r1] = [no('P'), no('P'), no('A'), no('R')];
    await localPayment(p1, 1_000, { paidAt: at(day, '00:00:00'), transactionId: paidAtWechat(p1, 1_000, at(day, '00:00:00')) });
    await localPayment(p2, 2_500, { status: 'REFUNDED', paidAt: at(day, '11:00:00'), transactionId: paidAtWechat(p2, 2_500, at(day, '11:00:00')) });
    const tid = paidAtWechat(a1, 600, at(day, '23:59:59'));
    await hub.db.getRepository(AndroidOrder).insert({ oid: a1, uid: 7, productId: 1, productPrice: 600, orderAmount: 600, paymentAmount: 600, status: 2, tid, payTime: at(day, '23:59:59') });
    emulator().recordRefund({ out_trade_no: p2, out_refund_no: r1, refund: 500, at: at(day, '15:00:00'), mchid: TEST_MCHID });
    await localRefund(p2, r1, 500, at(day, '15:00:00'));
    // Paid the day after: belongs to the next day's bill, not to this one.
    await localPayment(no('N'), 900, { paidAt: at(daysAgo(19), '00:00:00') });

    const summary = await reconcile(day);
    expect(summary).toMatchObject({
      status: 'COMPLETED', billDate: day, billRows: 4, discrepancies: 0, autoFixed: 0,
      billPayments: { count: 3, totalFen: 4_100 }, billRefunds: { count: 1, totalFen: 500 },
      localPayments: { count: 3, totalFen: 4_100 }, localRefunds: { count: 1, totalFen: 500 },
    });
    expect(summary.billHash).toMatch(/^[0-9a-f]{40}$/);
    const run = await hub.db.getRepository(HubReconciliationRun).findOneByOrFail({ id: summary.runId });
    expect(run).toMatchObject({ status: 'COMPLETED', billRows: 4, billPaymentTotal: '4100', billRefundTotal: '500', discrepancyCount: 0, billHash: summary.billHash });
    expect(await stagingRows()).toBe(0);
    const job = (await hub.queues.get('reconcile').getJobs(['completed'])).find((j) => j.returnvalue?.result?.runId === summary.runId);
    expect(job?.progress).toEqual({ done: 4 });
  });

  it('finds every kind of difference with both sides, syncs the safe kind, and a re-run replaces the items', async () => {
    const day = daysAgo(18);
    const noon = at(day, '12:00:00');
    const onlyAtWechat = no('W');
    paidAtWechat(onlyAtWechat, 777, noon);
    const onlyHere = no('L');
    await localPayment(onlyHere, 888, { paidAt: noon });
    const amount = no('M');
    await localPayment(amount, 1_200, { paidAt: noon, transactionId: paidAtWechat(amount, 1_000, noon) });
    const unpaid = no('U');
    paidAtWechat(unpaid, 1_500, noon);
    await localPayment(unpaid, 1_500, { status: 'UNPAID' });
    const [refunded, refundMissing] = [no('F'), no('RM')];
    await localPayment(refunded, 2_000, { status: 'REFUNDED', paidAt: noon, transactionId: paidAtWechat(refunded, 2_000, noon) });
    emulator().recordRefund({ out_trade_no: refunded, out_refund_no: refundMissing, refund: 100, at: at(day, '13:00:00'), mchid: TEST_MCHID });
    const refundDiffers = no('RD');
    emulator().recordRefund({ out_trade_no: refunded, out_refund_no: refundDiffers, refund: 300, at: at(day, '14:00:00'), mchid: TEST_MCHID });
    await localRefund(refunded, refundDiffers, 400, at(day, '14:00:00'));
    const refundOnlyHere = no('RL');
    await localRefund(refunded, refundOnlyHere, 50, at(day, '15:00:00'));

    const first = await reconcile(day);
    expect(first).toMatchObject({ status: 'COMPLETED', discrepancies: 7, autoFixed: 1 });
    expect(first.byKind).toEqual({ MISSING_LOCALLY: 1, MISSING_AT_WECHAT: 1, AMOUNT_MISMATCH: 1, STATUS_MISMATCH: 1, REFUND_MISMATCH: 3 });
    const found = (await items(first.runId)).map((i) => ({
      kind: i.kind, outTradeNo: i.outTradeNo, outRefundNo: i.outRefundNo, localTable: i.localTable, wechatAmount: i.wechatAmount,
      localAmount: i.localAmount, wechatStatus: i.wechatStatus, localStatus: i.localStatus, autoFix: i.autoFix,
    }));
    expect(found).toEqual(
      expect.arrayContaining([
        { kind: 'MISSING_LOCALLY', outTradeNo: onlyAtWechat, outRefundNo: null, localTable: null, wechatAmount: '777', localAmount: null, wechatStatus: 'SUCCESS', localStatus: null, autoFix: null },
        { kind: 'MISSING_AT_WECHAT', outTradeNo: onlyHere, outRefundNo: null, localTable: 'payment_order', wechatAmount: null, localAmount: '888', wechatStatus: null, localStatus: 'PAY_SUCCESS', autoFix: null },
        { kind: 'AMOUNT_MISMATCH', outTradeNo: amount, outRefundNo: null, localTable: 'payment_order', wechatAmount: '1000', localAmount: '1200', wechatStatus: 'SUCCESS', localStatus: 'PAY_SUCCESS', autoFix: null },
        { kind: 'STATUS_MISMATCH', outTradeNo: unpaid, outRefundNo: null, localTable: 'payment_order', wechatAmount: '1500', localAmount: '1500', wechatStatus: 'SUCCESS', localStatus: 'UNPAID', autoFix: 'SYNC_ENQUEUED' },
        { kind: 'REFUND_MISMATCH', outTradeNo: refunded, outRefundNo: refundMissing, localTable: null, wechatAmount: '100', localAmount: null, wechatStatus: 'SUCCESS', localStatus: null, autoFix: null },
        { kind: 'REFUND_MISMATCH', outTradeNo: refunded, outRefundNo: refundDiffers, localTable: 'refund_order', wechatAmount: '300', localAmount: '400', wechatStatus: 'SUCCESS', localStatus: 'REFUNDED', autoFix: null },
        { kind: 'REFUND_MISMATCH', outTradeNo: refunded, outRefundNo: refundOnlyHere, localTable: 'refund_order', wechatAmount: null, localAmount: '50', wechatStatus: null, localStatus: 'REFUNDED', autoFix: null },
      ]),
    );

    // The sync the run enqueued applies the payment WeChat has.
    const payments = hub.db.getRepository(PaymentOrder);
    await until('the unpaid order synced', async () => (await payments.findOneByOrFail({ outTradeNo: unpaid })).payStatus === 'PAY_SUCCESS', 20_000);

    const second = await reconcile(day);
    const third = await reconcile(day);
    expect(second.runId).toBe(first.runId);
    expect(third.runId).toBe(first.runId);
    expect(second.byKind).toEqual({ MISSING_LOCALLY: 1, MISSING_AT_WECHAT: 1, AMOUNT_MISMATCH: 1, REFUND_MISMATCH: 3 });
    expect(third.byKind).toEqual(second.byKind);
    const after = await items(first.runId);
    expect(after).toHaveLength(6);
    expect(new Set(after.map((i) => `${i.kind}/${i.outTradeNo}/${i.outRefundNo ?? ''}`)).size).toBe(6);
    expect(await hub.db.getRepository(HubReconciliationRun).countBy({ merchant: TEST_MCHID, billDate: day })).toBe(1);
  });

  it('records a day without a bill as EMPTY and still reports local payments missing at WeChat', async () => {
    const day = daysAgo(16);
    const orphan = no('E');
    await localPayment(orphan, 300, { paidAt: at(day, '08:00:00') });
    const summary = await reconcile(day);
    expect(summary).toMatchObject({ status: 'EMPTY', billRows: 0, billHash: null, discrepancies: 1, byKind: { MISSING_AT_WECHAT: 1 }, localPayments: { count: 1, totalFen: 300 } });
    const run = await hub.db.getRepository(HubReconciliationRun).findOneByOrFail({ id: summary.runId });
    expect(run.status).toBe('EMPTY');
    expect(run.error).toBeNull();
  });

  it('waits for a bill still being generated (delayed, not failed) and completes once it is ready', async () => {
    const day = daysAgo(14);
    const order = no('C');
    await localPayment(order, 450, { paidAt: at(day, '09:00:00'), transactionId: paidAtWechat(order, 450, at(day, '09:00:00')) });
    emulator().setBillState(TEST_MCHID, day, 'creating');
    const { id } = await hub.enqueue(wechatPayReconcileBill, { mchid: TEST_MCHID, billDate: day });
    const queue = hub.queues.get('reconcile');
    await until('the job delayed', async () => (await queue.getJobState(id)) === 'delayed', 20_000);
    const waiting = await hub.db.getRepository(HubReconciliationRun).findOneByOrFail({ merchant: TEST_MCHID, billDate: day });
    expect(waiting.status).toBe('RUNNING');
    expect(waiting.error).toMatch(/STATEMENT_CREATING/);
    emulator().setBillState(TEST_MCHID, day, 'ready');
    const job = await queue.getJob(id);
    await job?.promote();
    const result = (await job?.waitUntilFinished(events, 30_000)) as { result: ReconcileSummary };
    expect(result.result).toMatchObject({ status: 'COMPLETED', billRows: 1, discrepancies: 0 });
  });

  it('applies again after a truncated download and completes with the right counts', async () => {
    const day = daysAgo(12);
    for (const [i, total] of [1_100, 2_200, 3_300].entries()) {
      const order = no(`T${i}`);
      await localPayment(order, total, { paidAt: at(day, `1${i}:00:00`), transactionId: paidAtWechat(order, total, at(day, `1${i}:00:00`)) });
    }
    emulator().inject({ kind: 'truncate-bill' }, { route: 'download', times: 1 });
    const summary = await reconcile(day);
    expect(summary).toMatchObject({ status: 'COMPLETED', billRows: 3, billPayments: { count: 3, totalFen: 6_600 }, discrepancies: 0 });
    expect(hub.logText()).toMatch(/SHA1 mismatch/);
    expect(await stagingRows()).toBe(0);
  });

  it('puts a refund made the day after the payment in the next day\'s bill only, as a refund row', async () => {
    const [day, next] = [daysAgo(10), daysAgo(9)];
    const order = no('D');
    const refund = no('DR');
    await localPayment(order, 5_000, { status: 'REFUNDED', paidAt: at(day, '22:00:00'), transactionId: paidAtWechat(order, 5_000, at(day, '22:00:00')) });
    emulator().recordRefund({ out_trade_no: order, out_refund_no: refund, refund: 5_000, at: at(next, '09:30:00'), mchid: TEST_MCHID });
    await localRefund(order, refund, 5_000, at(next, '09:30:00'));
    expect(await reconcile(day)).toMatchObject({ billRows: 1, billPayments: { count: 1, totalFen: 5_000 }, billRefunds: { count: 0 }, discrepancies: 0 });
    expect(await reconcile(next)).toMatchObject({ billRows: 1, billPayments: { count: 0 }, billRefunds: { count: 1, totalFen: 5_000 }, localRefunds: { count: 1 }, discrepancies: 0 });
  });

  it('defers a run while the same merchant and date is being reconciled elsewhere, then completes', async () => {
    const day = daysAgo(8);
    const order = no('X');
    await localPayment(order, 990, { paidAt: at(day, '10:00:00'), transactionId: paidAtWechat(order, 990, at(day, '10:00:00')) });
    const other = hub.db.createQueryRunner();
    await other.connect();
    const lockName = reconcileLockName(hub, 'WECHAT', TEST_MCHID, day);
    try {
      expect(await other.query('SELECT GET_LOCK(?, 0) AS got', [lockName])).toEqual([{ got: 1 }]);
      const { id } = await hub.enqueue(wechatPayReconcileBill, { mchid: TEST_MCHID, billDate: day });
      const queue = hub.queues.get('reconcile');
      await until('the job delayed', async () => (await queue.getJobState(id)) === 'delayed', 20_000);
      expect(await hub.db.getRepository(HubReconciliationRun).countBy({ billDate: day })).toBe(0);
      await other.query('SELECT RELEASE_LOCK(?)', [lockName]);
      const job = await queue.getJob(id);
      await job?.promote();
      expect(await job?.waitUntilFinished(events, 30_000)).toMatchObject({ status: 'done', result: { status: 'COMPLETED', billRows: 1, discrepancies: 0 } });
    } finally {
      await other.release();
    }
  });

  it('without a merchant, enqueues one run per merchant under a once-per-date id', async () => {
    const day = daysAgo(20);
    const { id } = await hub.enqueue(wechatPayReconcileBill, { billDate: day });
    const parent = await hub.queues.get('reconcile').getJob(id);
    expect(await parent?.waitUntilFinished(events, 20_000)).toEqual({ status: 'done', result: { billDate: day, merchants: [TEST_MCHID] } });
    const child = await hub.queues.get('reconcile').getJob(`wechat-reconcile-${TEST_MCHID}-${day.replace(/-/g, '')}`);
    expect(child?.data).toEqual({ mchid: TEST_MCHID, billDate: day });
    expect(await child?.waitUntilFinished(events, 30_000)).toMatchObject({ status: 'done', result: { mchid: TEST_MCHID, billDate: day } });
  });

  it("defaults to the latest day whose bill is ready: yesterday from 10:00 Beijing, the day before until then", () => {
    expect(latestReadyBillDate(parseBeijing('2026-11-24 10:00:00'))).toBe('2026-11-23');
    expect(latestReadyBillDate(parseBeijing('2026-11-24 23:59:59'))).toBe('2026-11-23');
    // The 10:00 slot of 11-23, caught up at 02:54 the next night by a clock that was down, is still for 11-22.
    expect(latestReadyBillDate(parseBeijing('2026-11-24 02:54:00'))).toBe('2026-11-22');
    expect(latestReadyBillDate(parseBeijing('2026-11-24 09:59:59'))).toBe('2026-11-22');
    expect(latestReadyBillDate(parseBeijing('2026-03-01 10:00:00'))).toBe('2026-02-28');
  });

  describe('reports API', () => {
    let app: FastifyInstance;
    let runIds: string[];
    const auth = (): Record<string, string> => ({ authorization: `Bearer ${hub.config.apiTokens[0]?.token ?? ''}` });
    const get = async (url: string, headers = auth()): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await app.inject({ method: 'GET', url, headers });
      return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
    };

    beforeAll(async () => {
      app = await buildApp({ config: hub.config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry, integrations: hub.integrations });
    });
    afterAll(() => app.close());
    beforeEach(async () => {
      const now = new Date();
      const runs = hub.db.getRepository(HubReconciliationRun);
      runIds = [];
      for (const [merchant, billDate, status] of [['1900000001', '2026-03-01', 'COMPLETED'], ['1900000001', '2026-03-02', 'EMPTY'], ['1900000002', '2026-03-02', 'COMPLETED']] as const) {
        const { identifiers } = await runs.insert({
          channel: 'WECHAT', merchant, billDate, status, billRows: 3, billPaymentTotal: '123456789', discrepancyCount: 5, startedTime: now, createdTime: now, updatedTime: now,
        });
        runIds.push(String(identifiers[0]?.id));
      }
      const kinds = ['MISSING_LOCALLY', 'AMOUNT_MISMATCH', 'AMOUNT_MISMATCH', 'REFUND_MISMATCH', 'AMOUNT_MISMATCH'] as const;
      await hub.db.getRepository(HubReconciliationItem).insert(
        kinds.map((kind, i) => ({ runId: runIds[0] ?? null, source: 'BILL', kind, merchant: '1900000001', outTradeNo: `API${i}`, wechatAmount: String(100 + i), localAmount: i ? String(200 + i) : null, createdTime: now })),
      );
    });

    it('refuses requests without a valid Bearer token', async () => {
      expect((await get('/api/v1/reconciliation/runs', {})).status).toBe(401);
      expect((await get(`/api/v1/reconciliation/runs/${runIds[0]}/items`, { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(401);
    });

    it('lists runs newest first with filters, money as integer fen, paged by cursor', async () => {
      const all = await get('/api/v1/reconciliation/runs');
      expect(all.status).toBe(200);
      expect((all.body.runs as { id: string }[]).map((r) => r.id)).toEqual([...runIds].reverse());
      expect((all.body.runs as unknown[])[2]).toMatchObject({ merchant: '1900000001', billDate: '2026-03-01', status: 'COMPLETED', billRows: 3, billPayments: { count: 0, totalFen: 123456789 }, discrepancyCount: 5 });
      const byMerchant = await get('/api/v1/reconciliation/runs?merchant=1900000001&channel=WECHAT');
      expect((byMerchant.body.runs as { billDate: string }[]).map((r) => r.billDate)).toEqual(['2026-03-02', '2026-03-01']);
      const byDate = await get('/api/v1/reconciliation/runs?date=2026-03-02');
      expect((byDate.body.runs as { merchant: string }[]).map((r) => r.merchant)).toEqual(['1900000002', '1900000001']);
      const range = await get('/api/v1/reconciliation/runs?from=2026-03-01&to=2026-03-01');
      expect((range.body.runs as unknown[]).length).toBe(1);
      const page1 = await get('/api/v1/reconciliation/runs?limit=2');
      expect((page1.body.runs as unknown[]).length).toBe(2);
      const page2 = await get(`/api/v1/reconciliation/runs?limit=2&cursor=${String(page1.body.nextCursor)}`);
      expect((page2.body.runs as { id: string }[]).map((r) => r.id)).toEqual([runIds[0]]);
      expect(page2.body.nextCursor).toBeNull();
    });

    it('lists a run\'s items by kind, paged, with both sides\' amounts', async () => {
      const all = await get(`/api/v1/reconciliation/runs/${runIds[0]}/items`);
      expect((all.body.items as unknown[]).length).toBe(5);
      expect((all.body.items as unknown[])[0]).toMatchObject({ kind: 'MISSING_LOCALLY', outTradeNo: 'API0', wechatAmountFen: 100, localAmountFen: null });
      const p1 = await get(`/api/v1/reconciliation/runs/${runIds[0]}/items?kind=AMOUNT_MISMATCH&limit=2`);
      expect((p1.body.items as { outTradeNo: string }[]).map((i) => i.outTradeNo)).toEqual(['API1', 'API2']);
      const p2 = await get(`/api/v1/reconciliation/runs/${runIds[0]}/items?kind=AMOUNT_MISMATCH&limit=2&cursor=${String(p1.body.nextCursor)}`);
      expect(p2.body.items).toEqual([expect.objectContaining({ outTradeNo: 'API4', wechatAmountFen: 104, localAmountFen: 204 })]);
      expect(p2.body.nextCursor).toBeNull();
      expect((await get(`/api/v1/reconciliation/runs/${runIds[1]}/items`)).body.items).toEqual([]);
    });

    it('answers 400 naming the field of a bad query and 404 for an unknown run', async () => {
      const cases: [string, RegExp][] = [
        ['/api/v1/reconciliation/runs?limit=0', /^limit: /],
        ['/api/v1/reconciliation/runs?date=2026-02-30', /^date: no such date/],
        ['/api/v1/reconciliation/runs?from=yesterday', /^from: expected YYYY-MM-DD/],
        ['/api/v1/reconciliation/runs?cursor=abc', /^cursor: /],
        ['/api/v1/reconciliation/runs?color=red', /color/],
        [`/api/v1/reconciliation/runs/${runIds[0]}/items?kind=LOST`, /^kind: /],
        ['/api/v1/reconciliation/runs/x1/items', /^id: /],
      ];
      for (const [url, field] of cases) {
        const res = await get(url);
        expect(res.status).toBe(400);
        expect((res.body.fields as string[]).join('\n')).toMatch(field);
      }
      const missing = await get('/api/v1/reconciliation/runs/99999999999/items');
      expect(missing.status).toBe(404);
      expect(missing.body.error).toBe('run_not_found');
    });
  });
});
