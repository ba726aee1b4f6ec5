import { AppleOrder, AppleSubscriptionStatusCode } from '../../entities/app/apple-order.entity';
import { AppUser } from '../../entities/app/user.entity';
import { HubAppleSubscription } from '../../entities/hub/hub-apple-subscription.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { appleSyncSubscriptions } from '../../jobs/apple/apple-sync-subscriptions.job';
import type { SyncSubscriptionsResult } from '../../jobs/apple/apple-sync-subscriptions.job';
import { APPLE_TEST_BUNDLE_ID } from '../support/apple';
import { DAY_MS, HOUR_MS, openAppleRecon, type AppleReconHarness } from './apple-recon-fixtures';

jest.setTimeout(90_000);

const SHORT = 'com.example.jobhub.sync.sixhours';
const LONG = 'com.example.jobhub.sync.monthly';
const { ACTIVE, EXPIRED, GRACE } = AppleSubscriptionStatusCode;

describe('apple-sync-subscriptions', () => {
  let h: AppleReconHarness;

  beforeAll(async () => {
    h = await openAppleRecon(__filename);
    await h.product(SHORT, { periodMs: 6 * HOUR_MS, gracePeriodMs: 3 * DAY_MS });
    await h.product(LONG, { periodMs: 30 * DAY_MS });
  });
  afterAll(() => h.close());

  const orders = () => h.hub.db.getRepository(AppleOrder);
  const sync = async (batchSize?: number): Promise<SyncSubscriptionsResult> => {
    const r = await h.run(appleSyncSubscriptions, batchSize === undefined ? {} : { batchSize });
    expect(r.status).toBe('done');
    return r.result as SyncSubscriptionsResult;
  };
  const latestOf = async (originalTransactionId: string): Promise<AppleOrder> => {
    // DATETIME keeps whole seconds, and the emulator can renew within the one its purchase fell in: its ids grow, so they break the tie.
    const rows = await orders().find({ where: { originalTransactionId }, order: { purchaseDate: 'DESC', transactionId: 'DESC' } });
    const [latest] = rows;
    if (!latest) throw new Error(`no apple_order row of ${originalTransactionId}`);
    return latest;
  };
  const vipOf = async (uid: number): Promise<Date | null> => (await h.hub.db.getRepository(AppUser).findOneByOrFail({ uid })).vipExpiredAt;

  it('refreshes what expires within a day, is in grace or billing retry; one Apple does not know is recorded and skipped', async () => {
    const [a, b, c, d, e] = [await h.user(), await h.user(), await h.user(), await h.user(), await h.user()];
    // A renews at Apple; the notification never reaches the hub.
    const subA = h.emulator.subscribe({ productId: SHORT, appAccountToken: a.token });
    // B's renewal fails into a grace period, unheard.
    const subB = h.emulator.subscribe({ productId: SHORT, appAccountToken: b.token });
    // C's renewal fails without grace (heard: billing retry), then Apple recovers it, unheard.
    const subC = h.emulator.subscribe({ productId: SHORT, appAccountToken: c.token });
    // D is a month from its expiry: nothing to ask.
    const subD = h.emulator.subscribe({ productId: LONG, appAccountToken: d.token });
    await h.settled();
    h.emulator.failRenewal(subC.originalTransactionId, { grace: false });
    await h.settled();
    expect((await latestOf(subC.originalTransactionId)).subscriptionStatus).toBe(EXPIRED);
    const renewalA = h.emulator.renew(subA.originalTransactionId, { deliver: false });
    h.emulator.failRenewal(subB.originalTransactionId, { grace: true, deliver: false });
    const recoveryC = h.emulator.recover(subC.originalTransactionId, { deliver: false });
    // E: a receipt-era row of a subscription the App Store does not know (another app's, a test purchase long gone).
    const unknown = `9${Date.now()}`;
    await orders().insert({
      oid: `RC${unknown}`, uid: e.uid, productId: 0, appleProductId: SHORT, productType: 2, amount: 0, paymentStatus: 2, subscriptionStatus: ACTIVE,
      transactionId: unknown, originalTransactionId: unknown, purchaseDate: new Date(Date.now() - 2 * HOUR_MS), expiresDate: new Date(Date.now() + 2 * HOUR_MS),
      autoRenewStatus: 1, environment: 'Production', dataSource: 1, createdAt: new Date(),
    });
    const vipD = await vipOf(d.uid);

    // Windows of two rows: the walk crosses several primary-key windows.
    const first = await sync(2);
    expect(first.refreshed).toBe(4);
    expect(first.failed).toEqual([{ originalTransactionId: unknown, code: 'APPLE_TRANSACTION_ID_NOT_FOUND' }]);
    expect(first.changed).toBeGreaterThanOrEqual(3);

    const a1 = await latestOf(subA.originalTransactionId);
    expect(a1).toMatchObject({ transactionId: renewalA.transactionId, uid: a.uid, subscriptionStatus: ACTIVE, dataSource: 2 });
    expect((await vipOf(a.uid))?.getTime()).toBe(a1.expiresDate?.getTime());

    const b1 = await latestOf(subB.originalTransactionId);
    expect(b1.subscriptionStatus).toBe(GRACE);
    const grace = await h.hub.db.getRepository(HubAppleSubscription).findOneByOrFail({ originalTransactionId: subB.originalTransactionId });
    expect(grace.graceExpiresDate?.getTime()).toBeGreaterThan(b1.expiresDate?.getTime() ?? Infinity);
    // Grace keeps access until its end.
    expect((await vipOf(b.uid))?.getTime()).toBe(grace.graceExpiresDate?.getTime());

    const c1 = await latestOf(subC.originalTransactionId);
    expect(c1).toMatchObject({ transactionId: recoveryC.transactionId, subscriptionStatus: ACTIVE });
    expect(await orders().countBy({ originalTransactionId: subD.originalTransactionId })).toBe(1);
    expect(await vipOf(d.uid)).toEqual(vipD);

    const items = await h.hub.db.getRepository(HubReconciliationItem).findBy({ outTradeNo: unknown });
    expect(items).toEqual([
      expect.objectContaining({
        runId: null, source: 'SYNC', kind: 'APPLE_UNKNOWN_TRANSACTION', merchant: `${APPLE_TEST_BUNDLE_ID}/Production`, transactionId: unknown,
        localTable: 'apple_order', wechatStatus: 'APPLE_TRANSACTION_ID_NOT_FOUND', localStatus: String(ACTIVE),
      }),
    ]);
    // The unknown row is left as it was: only Apple's answers change rows.
    expect(await orders().findOneByOrFail({ transactionId: unknown })).toMatchObject({ subscriptionStatus: ACTIVE, dataSource: 1 });

    // Again, in one window: the same subscriptions asked, nothing changes, nothing recorded twice.
    const rowsBefore = await orders().count();
    const again = await sync();
    expect(again).toMatchObject({ changed: 0, failed: [{ originalTransactionId: unknown, code: 'APPLE_TRANSACTION_ID_NOT_FOUND' }] });
    expect(await orders().count()).toBe(rowsBefore);
    expect(await h.hub.db.getRepository(HubReconciliationItem).countBy({ outTradeNo: unknown })).toBe(1);
  });

  it('asks about an expiring subscription with auto-renew off, never about one that expired for good', async () => {
    const before = (await sync()).refreshed;
    const [x, y] = [await h.user(), await h.user()];
    // X will not renew but is active for six more hours: its expiry is still to be seen.
    const subX = h.emulator.subscribe({ productId: SHORT, appAccountToken: x.token });
    // Y turned auto-renew off and has expired: nothing Apple can change any more.
    const subY = h.emulator.subscribe({ productId: SHORT, appAccountToken: y.token });
    await h.settled();
    h.emulator.setAutoRenew(subX.originalTransactionId, false);
    h.emulator.setAutoRenew(subY.originalTransactionId, false);
    h.emulator.expire(subY.originalTransactionId, 'VOLUNTARY');
    await h.settled();
    expect(await latestOf(subY.originalTransactionId)).toMatchObject({ subscriptionStatus: EXPIRED, autoRenewStatus: 0 });

    const after = await sync();
    expect(after.refreshed).toBe(before + 1);
    expect(await latestOf(subX.originalTransactionId)).toMatchObject({ subscriptionStatus: ACTIVE, autoRenewStatus: 0 });
  });

  it('a refused key fails the run instead of recording every subscription as unknown', async () => {
    const itemsBefore = await h.hub.db.getRepository(HubReconciliationItem).count();
    h.emulator.failApi({ status: 401, errorCode: 4010000, times: 1 });
    await expect(h.run(appleSyncSubscriptions, {})).rejects.toThrow(/APPLE_ISSUER_ID/);
    expect(await h.hub.db.getRepository(HubReconciliationItem).count()).toBe(itemsBefore);
  });
});
