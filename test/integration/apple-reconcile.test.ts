import { In } from 'typeorm';
import { AppleOrder, AppleSubscriptionStatusCode } from '../../entities/app/apple-order.entity';
import { AppUser } from '../../entities/app/user.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { HubReconciliationRun } from '../../entities/hub/hub-reconciliation-run.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import { appleReconcile } from '../../jobs/apple/apple-reconcile.job';
import type { AppleReconcileSummary } from '../../jobs/apple/apple-reconcile.job';
import { beijingDate, formatBeijing } from '../../lib/time';
import { APPLE_TEST_BUNDLE_ID } from '../support/apple';
import { API_TOKEN, DAY_MS, openAppleRecon, type AppleReconHarness } from './apple-recon-fixtures';

jest.setTimeout(90_000);

const MONTHLY = 'com.example.jobhub.reconcile.monthly';
const MERCHANT = `${APPLE_TEST_BUNDLE_ID}/Production`;

describe('apple-reconcile', () => {
  let h: AppleReconHarness;

  beforeAll(async () => {
    h = await openAppleRecon(__filename);
    await h.product(MONTHLY);
  });
  afterAll(() => h.close());

  const orders = () => h.hub.db.getRepository(AppleOrder);
  const items = () => h.hub.db.getRepository(HubReconciliationItem);
  /** The emulator's notifications are signed now: today's history (the clock's run takes yesterday's). */
  const reconcile = async (): Promise<AppleReconcileSummary> => {
    const r = await h.run(appleReconcile, { environment: 'Production', date: beijingDate(new Date()) });
    expect(r.status).toBe('done');
    return r.result as AppleReconcileSummary;
  };
  const itemsOf = (transactionIds: string[]) => items().find({ where: { transactionId: In(transactionIds) }, order: { id: 'ASC' } });

  it('recovers the notifications whose delivery failed; a re-run of the day writes nothing new', async () => {
    const [a, b] = [await h.user(), await h.user()];
    const subA = h.emulator.subscribe({ productId: MONTHLY, appAccountToken: a.token });
    await h.settled();
    const vipBefore = (await h.hub.db.getRepository(AppUser).findOneByOrFail({ uid: a.uid })).vipExpiredAt;
    // The hub's endpoint fails twice: A's renewal and B's purchase never arrive.
    h.emulator.failNextDeliveries(2);
    const renewal = h.emulator.renew(subA.originalTransactionId);
    const subB = h.emulator.subscribe({ productId: MONTHLY, appAccountToken: b.token });
    await h.settled();
    expect(await orders().countBy({ transactionId: In([renewal.transactionId, subB.transactionId]) })).toBe(0);

    const first = await reconcile();
    expect(first).toMatchObject({ environment: 'Production', status: 'COMPLETED', notifications: 3, failedDeliveries: 2, missed: 2, discrepancies: 2, autoFixed: 2 });
    expect(first.byKind).toEqual({ APPLE_MISSED_NOTIFICATION: 2 });
    const found = (await itemsOf([renewal.transactionId, subB.transactionId])).map((i) => ({
      runId: i.runId, source: i.source, kind: i.kind, merchant: i.merchant, outTradeNo: i.outTradeNo, transactionId: i.transactionId,
      wechatStatus: i.wechatStatus, localStatus: i.localStatus, autoFix: i.autoFix,
    }));
    expect(found).toEqual([
      { runId: first.runId, source: 'HISTORY', kind: 'APPLE_MISSED_NOTIFICATION', merchant: MERCHANT, outTradeNo: subA.originalTransactionId, transactionId: renewal.transactionId, wechatStatus: 'DID_RENEW', localStatus: 'NOT_RECEIVED', autoFix: 'APPLIED' },
      { runId: first.runId, source: 'HISTORY', kind: 'APPLE_MISSED_NOTIFICATION', merchant: MERCHANT, outTradeNo: subB.originalTransactionId, transactionId: subB.transactionId, wechatStatus: 'SUBSCRIBED/INITIAL_BUY', localStatus: 'NOT_RECEIVED', autoFix: 'APPLIED' },
    ]);
    // Applied: the renewal extends A's VIP, B has its order and VIP.
    const renewed = await orders().findOneByOrFail({ transactionId: renewal.transactionId });
    expect(renewed).toMatchObject({ uid: a.uid, originalTransactionId: subA.originalTransactionId, subscriptionStatus: AppleSubscriptionStatusCode.ACTIVE, amount: 1_800 });
    const users = h.hub.db.getRepository(AppUser);
    expect((await users.findOneByOrFail({ uid: a.uid })).vipExpiredAt?.getTime()).toBe(renewed.expiresDate?.getTime());
    expect((await users.findOneByOrFail({ uid: a.uid })).vipExpiredAt?.getTime()).toBeGreaterThan(vipBefore?.getTime() ?? Infinity);
    const bought = await orders().findOneByOrFail({ transactionId: subB.transactionId });
    expect((await users.findOneByOrFail({ uid: b.uid })).vipExpiredAt?.getTime()).toBe(bought.expiresDate?.getTime());
    // Stored as the webhook would have, and handled by their jobs.
    await h.settled();
    const notes = await h.hub.db.getRepository(PayNotifyLog).findBy({ channel: 'APPLE', transactionId: In([renewal.transactionId, subB.transactionId]) });
    expect(notes.map((n) => ({ verified: n.verified, handled: n.handled }))).toEqual([{ verified: 1, handled: 1 }, { verified: 1, handled: 1 }]);

    // Ops see the run through the API.
    const res = await h.app.inject({ method: 'GET', url: '/api/v1/reconciliation/runs?channel=APPLE', headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ runs: { id: string; merchant: string; status: string; discrepancyCount: number; autoFixedCount: number; billRows: number }[] }>();
    expect(body.runs).toEqual([expect.objectContaining({ id: first.runId, merchant: MERCHANT, status: 'COMPLETED', discrepancyCount: 2, autoFixedCount: 2, billRows: 3 })]);
    const listed = await h.app.inject({ method: 'GET', url: `/api/v1/reconciliation/runs/${first.runId}/items?kind=APPLE_MISSED_NOTIFICATION`, headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(listed.json<{ items: unknown[] }>().items).toHaveLength(2);

    // The same day again: the same run, nothing missed, nothing new.
    const itemCount = await items().count();
    const again = await reconcile();
    expect(again).toMatchObject({ runId: first.runId, status: 'COMPLETED', notifications: 3, failedDeliveries: 2, missed: 0, discrepancies: 2 });
    expect(await items().count()).toBe(itemCount);
    expect(await h.hub.db.getRepository(HubReconciliationRun).countBy({ channel: 'APPLE' })).toBe(1);
    expect(await orders().countBy({ originalTransactionId: In([subA.originalTransactionId, subB.originalTransactionId]) })).toBe(3);
  });

  it('finds subscriptions whose status or expiry differ from Apple and one without a user, fixes what it can, and says so once', async () => {
    const c = await h.user();
    const subC = h.emulator.subscribe({ productId: MONTHLY, appAccountToken: c.token });
    // Bought outside the app's rule (no appAccountToken): parked, no apple_order row.
    const stranger = h.emulator.subscribe({ productId: MONTHLY });
    await h.settled();
    const good = await orders().findOneByOrFail({ transactionId: subC.transactionId });
    // apple_order says C's subscription ended yesterday.
    const yesterday = new Date(Math.floor((Date.now() - DAY_MS) / 1_000) * 1_000);
    await orders().update({ transactionId: subC.transactionId }, { subscriptionStatus: AppleSubscriptionStatusCode.EXPIRED, expiresDate: yesterday });

    const run = await reconcile();
    expect(run.missed).toBe(0);
    const found = (await itemsOf([subC.transactionId, stranger.transactionId])).map((i) => ({
      runId: i.runId, source: i.source, kind: i.kind, outTradeNo: i.outTradeNo, localTable: i.localTable, wechatStatus: i.wechatStatus, localStatus: i.localStatus, autoFix: i.autoFix,
    }));
    const expiresAtApple = formatBeijing(good.expiresDate ?? new Date(0));
    expect(found).toEqual(
      expect.arrayContaining([
        { runId: run.runId, source: 'STATUS', kind: 'APPLE_STATUS_MISMATCH', outTradeNo: subC.originalTransactionId, localTable: 'apple_order', wechatStatus: '1', localStatus: '2', autoFix: 'STATUS_APPLIED' },
        { runId: run.runId, source: 'STATUS', kind: 'APPLE_EXPIRES_MISMATCH', outTradeNo: subC.originalTransactionId, localTable: 'apple_order', wechatStatus: expiresAtApple, localStatus: formatBeijing(yesterday), autoFix: 'STATUS_APPLIED' },
        { runId: run.runId, source: 'STATUS', kind: 'APPLE_UNKNOWN_TRANSACTION', outTradeNo: stranger.originalTransactionId, localTable: null, wechatStatus: '1', localStatus: null, autoFix: 'ORPHAN_PARKED' },
      ]),
    );
    expect(found).toHaveLength(3);
    // Apple's state is back on the row.
    expect(await orders().findOneByOrFail({ transactionId: subC.transactionId })).toMatchObject({ subscriptionStatus: AppleSubscriptionStatusCode.ACTIVE, expiresDate: good.expiresDate });

    const itemCount = await items().count();
    const again = await reconcile();
    expect(again).toMatchObject({ runId: run.runId, missed: 0, discrepancies: run.discrepancies });
    expect(await items().count()).toBe(itemCount);
  });
});
