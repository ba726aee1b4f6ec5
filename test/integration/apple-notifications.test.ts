import { AppleOrder, AppleSubscriptionStatusCode as Sub } from '../../entities/app/apple-order.entity';
import { AppUser } from '../../entities/app/user.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { HubAppleOrphan } from '../../entities/hub/hub-apple-orphan.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import { appleClaimOrphans } from '../../jobs/apple/apple-claim-orphans.job';
import { appAccountTokenForUid } from '../../jobs/apple/app-account-token';
import { BusinessSource } from '../../entities/dms/audit';
import { DAY, GRACE, MONTH, openAppleHub, PRODUCTS, seconds, type AppleHub } from './apple-fixtures';

/** The App Store emulator's notifications through the hub's webhook and real workers, into apple_order and user. */
describe('apple-handle-notification: subscription state and VIP', () => {
  let a: AppleHub;
  const monthly = PRODUCTS.monthly.productId;

  beforeAll(async () => {
    a = await openAppleHub(__filename);
  });
  afterAll(() => a.close());
  beforeEach(() => a.reset());

  const vip = async (uid: number) => (await a.user(uid)).vipExpiredAt?.getTime() ?? null;
  const expiry = async (transactionId: string) => (await a.order(transactionId)).expiresDate?.getTime() ?? 0;
  const runJob = async (def: typeof appleClaimOrphans, payload: { batchSize?: number }) => {
    const { id } = await a.hub.enqueue(def, payload);
    return (await a.hub.queues.get('payments').getJob(id))?.waitUntilFinished(a.events, 20_000);
  };

  it('a purchase and two renewals: one row per transaction in the seed codes, amount from apple_product, VIP at the latest expiry', async () => {
    const { uid, token } = await a.addUser();
    const sub = a.emulator.subscribe({ productId: monthly, appAccountToken: token });
    await a.settle();
    const first = await a.order(sub.transactionId);
    expect(first).toMatchObject({
      oid: `AP${sub.transactionId}`,
      uid,
      appleProductId: monthly,
      productType: 2,
      amount: PRODUCTS.monthly.price,
      paymentStatus: 2,
      subscriptionStatus: Sub.ACTIVE,
      originalTransactionId: sub.originalTransactionId,
      isTrialPeriod: 0,
      isInIntroOfferPeriod: 0,
      autoRenewStatus: 1,
      autoRenewProductId: monthly,
      environment: 'Production',
      dataSource: 2,
      cancellationDate: null,
    });
    expect(first.productId).toBeGreaterThan(0);
    expect(await vip(uid)).toBe(await expiry(sub.transactionId));

    const r1 = a.emulator.renew(sub.originalTransactionId);
    const r2 = a.emulator.renew(sub.originalTransactionId);
    await a.settle();
    const rows = await a.orders({ originalTransactionId: sub.originalTransactionId });
    expect(rows.map((r) => [r.transactionId, r.subscriptionStatus])).toEqual([
      [sub.transactionId, Sub.EXPIRED],
      [r1.transactionId, Sub.EXPIRED],
      [r2.transactionId, Sub.ACTIVE],
    ]);
    expect(await vip(uid)).toBe(await expiry(r2.transactionId));
    expect(await a.hub.db.getRepository(DmsBusinessLog).countBy({ businessNo: `AP${r2.transactionId}`, businessSource: BusinessSource.APPLE_ORDER })).toBeGreaterThanOrEqual(1);
    expect(await a.hub.db.getRepository(AppleOrder).countBy({ uid: 0 })).toBe(0);
  });

  it('out of order: an older notification delivered after a newer one changes nothing', async () => {
    const { uid, token } = await a.addUser();
    const sub = a.emulator.subscribe({ productId: monthly, appAccountToken: token });
    await a.settle();
    a.emulator.advance(MONTH + DAY);
    const failed = a.emulator.failRenewal(sub.originalTransactionId, { grace: true, deliver: false });
    a.emulator.advance(DAY);
    const recovered = a.emulator.recover(sub.originalTransactionId, { deliver: false });
    a.emulator.deliver([...recovered.sent, ...failed.sent]);
    await a.settle();
    expect(await a.order(recovered.transactionId)).toMatchObject({ subscriptionStatus: Sub.ACTIVE, paymentStatus: 2 });
    expect(await a.order(sub.transactionId)).toMatchObject({ subscriptionStatus: Sub.EXPIRED });
    expect(await vip(uid)).toBe(await expiry(recovered.transactionId));
    const late = await a.hub.db.getRepository(PayNotifyLog).findOneByOrFail({ notifyId: failed.sent[0]?.notificationUUID ?? '' });
    expect(late.handled).toBe(1);
  });

  it('grace period: access until the grace end, none once it expires; billing retry without grace: no access, recovery restores it', async () => {
    const { uid, token } = await a.addUser();
    const sub = a.emulator.subscribe({ productId: monthly, appAccountToken: token });
    await a.settle();
    const firstEnd = await expiry(sub.transactionId);
    a.emulator.advance(MONTH + 60_000);
    a.emulator.failRenewal(sub.originalTransactionId, { grace: true });
    await a.settle();
    expect(await a.order(sub.transactionId)).toMatchObject({ subscriptionStatus: Sub.GRACE });
    expect(await vip(uid)).toBe(seconds(firstEnd + GRACE).getTime());

    a.emulator.advance(GRACE);
    a.emulator.expireGrace(sub.originalTransactionId);
    await a.settle();
    expect(await a.order(sub.transactionId)).toMatchObject({ subscriptionStatus: Sub.EXPIRED });
    expect(await vip(uid)).toBe(firstEnd);

    const other = await a.addUser();
    const second = a.emulator.subscribe({ productId: monthly, appAccountToken: other.token });
    a.emulator.advance(MONTH + 60_000);
    a.emulator.failRenewal(second.originalTransactionId, { grace: false });
    await a.settle();
    expect(await a.order(second.transactionId)).toMatchObject({ subscriptionStatus: Sub.EXPIRED, paymentStatus: 2 });
    expect(await vip(other.uid)).toBe(await expiry(second.transactionId));
    expect((await vip(other.uid)) ?? 0).toBeLessThan(a.emulator.now());

    a.emulator.advance(DAY);
    const back = a.emulator.recover(second.originalTransactionId);
    await a.settle();
    expect(await a.order(back.transactionId)).toMatchObject({ subscriptionStatus: Sub.ACTIVE });
    expect(await vip(other.uid)).toBe(await expiry(back.transactionId));
    expect((await vip(other.uid)) ?? 0).toBeGreaterThan(a.emulator.now());
  });

  it('refunds: a past period takes only its own grant, the latest ends access, a reversal restores it, a declined refund changes nothing', async () => {
    const { uid, token } = await a.addUser();
    const sub = a.emulator.subscribe({ productId: monthly, appAccountToken: token });
    const p2 = a.emulator.renew(sub.originalTransactionId);
    const p3 = a.emulator.renew(sub.originalTransactionId);
    await a.settle();
    const latestEnd = await expiry(p3.transactionId);
    expect(await vip(uid)).toBe(latestEnd);

    a.emulator.advance(DAY);
    a.emulator.refund(p2.transactionId);
    await a.settle();
    expect(await a.order(p2.transactionId)).toMatchObject({ paymentStatus: 3, subscriptionStatus: Sub.CANCELLED });
    expect((await a.order(p2.transactionId)).cancellationDate).not.toBeNull();
    expect(await a.order(p3.transactionId)).toMatchObject({ paymentStatus: 2, subscriptionStatus: Sub.ACTIVE });
    expect(await vip(uid)).toBe(latestEnd);

    a.emulator.advance(DAY);
    a.emulator.refund(p3.transactionId);
    await a.settle();
    expect(await a.order(p3.transactionId)).toMatchObject({ paymentStatus: 3, subscriptionStatus: Sub.CANCELLED });
    // Left: the first period, which ended where the second began.
    expect(await vip(uid)).toBe(await expiry(sub.transactionId));

    a.emulator.advance(DAY);
    a.emulator.reverseRefund(p3.transactionId);
    await a.settle();
    expect(await a.order(p3.transactionId)).toMatchObject({ paymentStatus: 2, subscriptionStatus: Sub.ACTIVE, cancellationDate: null });
    expect(await vip(uid)).toBe(latestEnd);

    a.emulator.advance(DAY);
    a.emulator.declineRefund(p3.transactionId);
    await a.settle();
    expect(await a.order(p3.transactionId)).toMatchObject({ paymentStatus: 2, subscriptionStatus: Sub.ACTIVE });
    expect(await vip(uid)).toBe(latestEnd);
  });

  it('an upgrade during an introductory offer: the new product carries the subscription, the old one ends at the upgrade', async () => {
    const { uid, token } = await a.addUser();
    const sub = a.emulator.subscribe({ productId: monthly, appAccountToken: token, offer: 'intro' });
    await a.settle();
    expect(await a.order(sub.transactionId)).toMatchObject({ isInIntroOfferPeriod: 1, isTrialPeriod: 0 });
    a.emulator.advance(5 * DAY);
    const up = a.emulator.upgrade(sub.originalTransactionId, PRODUCTS.yearly.productId);
    await a.settle();
    const upgraded = await a.order(up.transactionId);
    expect(upgraded).toMatchObject({ appleProductId: PRODUCTS.yearly.productId, amount: PRODUCTS.yearly.price, subscriptionStatus: Sub.ACTIVE, autoRenewProductId: PRODUCTS.yearly.productId });
    expect(await a.order(sub.transactionId)).toMatchObject({ subscriptionStatus: Sub.EXPIRED, paymentStatus: 2 });
    expect(await vip(uid)).toBe(await expiry(up.transactionId));

    // Refunding the upgrade leaves the old product's time only up to the upgrade, not to its own expiry.
    a.emulator.advance(DAY);
    a.emulator.refund(up.transactionId);
    await a.settle();
    expect(await vip(uid)).toBe(upgraded.purchaseDate?.getTime());
    expect(await vip(uid)).toBeLessThan(await expiry(sub.transactionId));

    const trialUser = await a.addUser();
    const trial = a.emulator.subscribe({ productId: monthly, appAccountToken: trialUser.token, offer: 'trial' });
    await a.settle();
    expect(await a.order(trial.transactionId)).toMatchObject({ isTrialPeriod: 1, isInIntroOfferPeriod: 0 });
  });

  it('family sharing: the member is parked until the app links the purchase; revoking the share removes only the member grant', async () => {
    const owner = await a.addUser();
    const member = await a.addUser();
    const sub = a.emulator.subscribe({ productId: monthly, appAccountToken: owner.token });
    await a.settle();
    const shared = a.emulator.familyShare(sub.originalTransactionId);
    await a.settle();
    const [parked, ...more] = await a.hub.db.getRepository(HubAppleOrphan).find();
    expect(more).toHaveLength(0);
    expect(parked).toMatchObject({ transactionId: shared.transactionId, status: 'PARKED', uid: null });
    expect(await a.orders({ originalTransactionId: shared.originalTransactionId })).toHaveLength(0);

    // The app checks the member's receipt and records it (data_source 1) under its own oid.
    const at = new Date();
    await a.hub.db.getRepository(AppleOrder).insert({
      oid: `R${shared.transactionId}`,
      uid: member.uid,
      productId: 0,
      appleProductId: monthly,
      productType: 2,
      amount: 0,
      paymentStatus: 2,
      transactionId: shared.transactionId,
      originalTransactionId: shared.originalTransactionId,
      dataSource: 1,
      createdAt: at,
      updatedAt: at,
    });
    expect(await runJob(appleClaimOrphans, {})).toEqual({ status: 'done', result: { applied: 1 } });
    expect(await a.hub.db.getRepository(HubAppleOrphan).findOneByOrFail({ transactionId: shared.transactionId })).toMatchObject({ status: 'APPLIED', uid: member.uid });
    const linked = await a.order(shared.transactionId);
    expect(linked).toMatchObject({ oid: `R${shared.transactionId}`, uid: member.uid, dataSource: 1, subscriptionStatus: Sub.ACTIVE, amount: PRODUCTS.monthly.price });
    expect(await vip(member.uid)).toBe(linked.expiresDate?.getTime());

    a.emulator.advance(DAY);
    a.emulator.revokeFamily(shared.originalTransactionId);
    await a.settle();
    expect(await a.order(shared.transactionId)).toMatchObject({ paymentStatus: 3, subscriptionStatus: Sub.CANCELLED });
    expect(await vip(member.uid)).toBeNull();
    expect(await vip(owner.uid)).toBe(await expiry(sub.transactionId));
  });

  it('an orphan is parked once per transaction and applied when the user its token names appears', async () => {
    const uid = 4_000_000 + Math.floor(Math.random() * 1_000_000);
    const sub = a.emulator.subscribe({ productId: monthly, appAccountToken: appAccountTokenForUid(uid) });
    await a.settle();
    await a.emulator.resend(sub.sent[0]?.notificationUUID ?? '');
    const renewed = a.emulator.renew(sub.originalTransactionId);
    await a.settle();
    const orphans = a.hub.db.getRepository(HubAppleOrphan);
    expect((await orphans.find({ order: { id: 'ASC' } })).map((o) => [o.transactionId, o.status])).toEqual([
      [sub.transactionId, 'PARKED'],
      [renewed.transactionId, 'PARKED'],
    ]);
    expect(await a.hub.db.getRepository(AppleOrder).count()).toBe(0);
    expect(await runJob(appleClaimOrphans, {})).toEqual({ status: 'done', result: { applied: 0 } });

    await a.hub.db.getRepository(AppUser).insert({ uid, nickname: 'late', createdAt: new Date() });
    expect(await runJob(appleClaimOrphans, {})).toEqual({ status: 'done', result: { applied: 2 } });
    expect((await a.orders({ uid })).map((r) => [r.transactionId, r.subscriptionStatus])).toEqual([
      [sub.transactionId, Sub.EXPIRED],
      [renewed.transactionId, Sub.ACTIVE],
    ]);
    expect(await vip(uid)).toBe(await expiry(renewed.transactionId));
    expect(await orphans.countBy({ status: 'PARKED' })).toBe(0);
    expect(await runJob(appleClaimOrphans, {})).toEqual({ status: 'done', result: { applied: 0 } });
  });

  it('non-renewing passes add their days once per transaction; a permanent product sets is_forever_vip, its refund clears it', async () => {
    const { uid, token } = await a.addUser();
    const p1 = a.emulator.purchase({ productId: PRODUCTS.pass.productId, appAccountToken: token });
    const p2 = a.emulator.purchase({ productId: PRODUCTS.pass.productId, appAccountToken: token });
    await a.settle();
    const bought = (await a.order(p1.transactionId)).purchaseDate?.getTime() ?? 0;
    expect(await a.order(p2.transactionId)).toMatchObject({ productType: 3, subscriptionStatus: null, paymentStatus: 2 });
    expect(await vip(uid)).toBe(bought + 14 * DAY);
    await a.emulator.resend(p2.sent[0]?.notificationUUID ?? '');
    await a.settle();
    expect(await vip(uid)).toBe(bought + 14 * DAY);

    const life = a.emulator.purchase({ productId: PRODUCTS.lifetime.productId, appAccountToken: token });
    await a.settle();
    expect(await a.user(uid)).toMatchObject({ isForeverVip: 1 });
    a.emulator.refund(life.transactionId);
    a.emulator.refund(p1.transactionId);
    await a.settle();
    expect(await a.user(uid)).toMatchObject({ isForeverVip: 0 });
    expect(await vip(uid)).toBe(((await a.order(p2.transactionId)).purchaseDate?.getTime() ?? 0) + 7 * DAY);
  });
});
