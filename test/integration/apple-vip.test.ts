import { AppUser } from '../../entities/app/user.entity';
import { HubAppleVip } from '../../entities/hub/hub-apple-vip.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import { appleHandleNotification } from '../../jobs/apple/apple-handle-notification.job';
import { DAY, openAppleHub, PRODUCTS, seconds, type AppleHub } from './apple-fixtures';

/**
 * The app writes user.vip_expired_at and is_forever_vip too (Android orders, admins): Apple's
 * notifications lay their grants over what it wrote and never take it away.
 */
describe('apple vip beside the app back end', () => {
  let a: AppleHub;
  const monthly = PRODUCTS.monthly.productId;

  beforeAll(async () => {
    a = await openAppleHub(__filename);
  });
  afterAll(() => a.close());
  beforeEach(() => a.reset());

  const users = () => a.hub.db.getRepository(AppUser);
  const vip = async (uid: number) => (await a.user(uid)).vipExpiredAt?.getTime() ?? null;
  const expiry = async (transactionId: string) => (await a.order(transactionId)).expiresDate?.getTime() ?? 0;
  const ledger = (uid: number) => a.hub.db.getRepository(HubAppleVip).findOneByOrFail({ uid });
  /** What the app back end does on an Android order or an admin action: writes the column itself. */
  const backEndSetsVip = (uid: number, at: Date | null) => users().update({ uid }, { vipExpiredAt: at });

  it('an Android grant set before an Apple purchase survives the refund of that purchase', async () => {
    const { uid, token } = await a.addUser();
    const android = seconds(a.emulator.now() + 20 * DAY);
    await backEndSetsVip(uid, android);
    const sub = a.emulator.subscribe({ productId: monthly, appAccountToken: token });
    await a.settle();
    const appleEnd = await expiry(sub.transactionId);
    expect(appleEnd).toBeGreaterThan(android.getTime());
    expect(await vip(uid)).toBe(appleEnd);
    expect(await ledger(uid)).toMatchObject({ foreignFloor: android, writtenVipExpiredAt: new Date(appleEnd) });

    a.emulator.advance(DAY);
    a.emulator.refund(sub.transactionId);
    await a.settle();
    expect(await a.order(sub.transactionId)).toMatchObject({ paymentStatus: 3 });
    expect(await vip(uid)).toBe(android.getTime());
    expect(await ledger(uid)).toMatchObject({ foreignFloor: android, writtenVipExpiredAt: android });
  });

  it('an admin extension written between two Apple notifications is neither shortened by a renewal nor lost to refunds', async () => {
    const { uid, token } = await a.addUser();
    const sub = a.emulator.subscribe({ productId: monthly, appAccountToken: token });
    await a.settle();
    const firstEnd = await expiry(sub.transactionId);
    const extended = new Date(firstEnd + 45 * DAY);
    await backEndSetsVip(uid, extended);

    const renewed = a.emulator.renew(sub.originalTransactionId);
    await a.settle();
    expect(await expiry(renewed.transactionId)).toBeLessThan(extended.getTime());
    expect(await vip(uid)).toBe(extended.getTime());

    a.emulator.advance(DAY);
    a.emulator.refund(renewed.transactionId);
    a.emulator.refund(sub.transactionId);
    await a.settle();
    expect((await a.orders({ uid })).map((o) => o.paymentStatus)).toEqual([3, 3]);
    expect(await vip(uid)).toBe(extended.getTime());
  });

  it('an Apple-only user still loses exactly the refunded grant, down to no VIP', async () => {
    const { uid, token } = await a.addUser();
    const sub = a.emulator.subscribe({ productId: monthly, appAccountToken: token });
    const renewed = a.emulator.renew(sub.originalTransactionId);
    await a.settle();
    expect(await vip(uid)).toBe(await expiry(renewed.transactionId));

    a.emulator.advance(DAY);
    a.emulator.refund(renewed.transactionId);
    await a.settle();
    expect(await vip(uid)).toBe(await expiry(sub.transactionId));

    a.emulator.refund(sub.transactionId);
    await a.settle();
    expect(await vip(uid)).toBeNull();
    expect(await ledger(uid)).toMatchObject({ foreignFloor: null, writtenVipExpiredAt: null });
  });

  it('a later lowering by the back end (its own refund) holds: the hub does not bring back the earlier value', async () => {
    const { uid, token } = await a.addUser();
    await backEndSetsVip(uid, seconds(a.emulator.now() + 20 * DAY));
    const sub = a.emulator.subscribe({ productId: monthly, appAccountToken: token });
    await a.settle();
    const cut = seconds(a.emulator.now());
    await backEndSetsVip(uid, cut);

    const renewed = a.emulator.renew(sub.originalTransactionId);
    await a.settle();
    expect(await vip(uid)).toBe(await expiry(renewed.transactionId));
    a.emulator.advance(DAY);
    a.emulator.refund(renewed.transactionId);
    a.emulator.refund(sub.transactionId);
    await a.settle();
    expect(await vip(uid)).toBe(cut.getTime());
  });

  it('is_forever_vip set by the back end is never cleared by an Apple refund; its own clearing holds', async () => {
    const { uid, token } = await a.addUser();
    await users().update({ uid }, { isForeverVip: 1 });
    const life = a.emulator.purchase({ productId: PRODUCTS.lifetime.productId, appAccountToken: token });
    await a.settle();
    expect(await ledger(uid)).toMatchObject({ writtenForever: 1, foreignForever: 1 });
    a.emulator.refund(life.transactionId);
    await a.settle();
    expect(await a.order(life.transactionId)).toMatchObject({ paymentStatus: 3 });
    expect(await a.user(uid)).toMatchObject({ isForeverVip: 1 });

    await users().update({ uid }, { isForeverVip: 0 });
    a.emulator.purchase({ productId: PRODUCTS.pass.productId, appAccountToken: token });
    await a.settle();
    expect(await a.user(uid)).toMatchObject({ isForeverVip: 0 });
    expect(await ledger(uid)).toMatchObject({ writtenForever: 0, foreignForever: 0 });
  });

  it('every notification applied again, newest first, changes neither the user nor the ledger', async () => {
    const { uid, token } = await a.addUser();
    await backEndSetsVip(uid, seconds(a.emulator.now() + 20 * DAY));
    await users().update({ uid }, { isForeverVip: 1 });
    const sub = a.emulator.subscribe({ productId: monthly, appAccountToken: token });
    const life = a.emulator.purchase({ productId: PRODUCTS.lifetime.productId, appAccountToken: token });
    await a.settle();
    await backEndSetsVip(uid, new Date((await expiry(sub.transactionId)) + 7 * DAY));
    const renewed = a.emulator.renew(sub.originalTransactionId);
    a.emulator.advance(DAY);
    a.emulator.refund(renewed.transactionId);
    a.emulator.refund(life.transactionId);
    await a.settle();
    const snapshot = async () => ({ user: await a.user(uid), ledger: await ledger(uid) });
    const before = await snapshot();
    expect(before.user.vipExpiredAt?.getTime()).toBe((await expiry(sub.transactionId)) + 7 * DAY);

    const rows = await a.hub.db.getRepository(PayNotifyLog).find({ order: { id: 'DESC' } });
    expect(rows).toHaveLength(5);
    await a.hub.db.getRepository(PayNotifyLog).update({ channel: 'APPLE' }, { handled: 0 });
    for (const row of rows) {
      const { id } = await a.hub.enqueue(appleHandleNotification, { payNotifyLogId: row.id }, { jobId: `again-${row.id}` });
      await (await a.hub.queues.get('payments').getJob(id))?.waitUntilFinished(a.events, 20_000);
    }
    expect(await snapshot()).toEqual(before);
  });
});
