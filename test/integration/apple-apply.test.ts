import { randomUUID } from 'node:crypto';
import { AppleOrder } from '../../entities/app/apple-order.entity';
import { AppUser } from '../../entities/app/user.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { HubAppleSubscription } from '../../entities/hub/hub-apple-subscription.entity';
import { HubAppleTransaction } from '../../entities/hub/hub-apple-transaction.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import type { VerifiedAppleNotification } from '../../integrations/apple/apple.client';
import { appleHandleNotification } from '../../jobs/apple/apple-handle-notification.job';
import { applyAppleTransactionState, type AppleTransactionState } from '../../jobs/apple/apply-apple-transaction';
import { BusinessSource } from '../../entities/dms/audit';
import { DAY, openAppleHub, PRODUCTS, type AppleHub } from './apple-fixtures';

/** The apply step on its own: idempotence, concurrency, configuration, and what the job leaves alone. */
describe('applyAppleTransactionState and the notification job', () => {
  let a: AppleHub;

  beforeAll(async () => {
    a = await openAppleHub(__filename);
  });
  afterAll(() => a.close());
  beforeEach(() => a.reset());

  const stateOf = (v: VerifiedAppleNotification): AppleTransactionState => {
    if (!v.transaction) throw new Error('no transaction');
    return {
      environment: v.environment,
      transaction: v.transaction,
      renewal: v.renewal,
      status: v.payload.data?.status ?? null,
      notificationType: v.payload.notificationType ?? null,
      subtype: v.payload.subtype ?? null,
      signedDate: v.payload.signedDate ?? 0,
    };
  };
  const opts = () => ({ now: new Date(), log: a.hub.log });
  const vip = async (uid: number) => (await a.user(uid)).vipExpiredAt?.getTime() ?? null;

  it('applies one state delivered five times at once: one row, one creation audit, the same VIP', async () => {
    const { uid, token } = await a.addUser();
    const sub = a.emulator.subscribe({ productId: PRODUCTS.monthly.productId, appAccountToken: token, deliver: false });
    const state = stateOf(await a.apple.verifier.verifyNotification(sub.sent[0]?.signedPayload ?? ''));
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => applyAppleTransactionState(a.hub.db, a.apple, state, opts())));
    expect(outcomes.filter((o) => o.changed)).toHaveLength(1);
    expect(outcomes.every((o) => o.uid === uid && !o.orphaned)).toBe(true);
    expect(await a.orders()).toHaveLength(1);
    expect(await a.hub.db.getRepository(DmsBusinessLog).countBy({ businessNo: `AP${sub.transactionId}`, businessSource: BusinessSource.APPLE_ORDER, operationType: 1 })).toBe(1);
    expect(await vip(uid)).toBe((await a.order(sub.transactionId)).expiresDate?.getTime());
  });

  it('grants VIP for Sandbox purchases only when configured, keeping the row either way', async () => {
    const { uid, token } = await a.addUser();
    const sub = a.emulator.subscribe({ productId: PRODUCTS.monthly.productId, appAccountToken: token, environment: 'Sandbox' });
    await a.settle();
    const row = await a.order(sub.transactionId);
    expect(row).toMatchObject({ environment: 'Sandbox', paymentStatus: 2 });
    expect(await vip(uid)).toBe(row.expiresDate?.getTime());

    const state = stateOf(await a.apple.verifier.verifyNotification(sub.sent[0]?.signedPayload ?? ''));
    const off = await applyAppleTransactionState(a.hub.db, { ...a.apple, sandboxGrantsVip: false }, state, opts());
    expect(off).toMatchObject({ uid, changed: true, orphaned: false });
    expect(await vip(uid)).toBeNull();
    expect(await a.order(sub.transactionId)).toEqual(row);

    await applyAppleTransactionState(a.hub.db, a.apple, state, opts());
    expect(await vip(uid)).toBe(row.expiresDate?.getTime());
  });

  it('stores and logs a notification type it does not know, and applies nothing from it', async () => {
    const { token } = await a.addUser();
    const sub = a.emulator.subscribe({ productId: PRODUCTS.monthly.productId, appAccountToken: token, deliver: false });
    const part = (sub.sent[0]?.signedPayload ?? '').split('.')[1] ?? '';
    const payload = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
    const future = a.emulator.signNotification({ ...payload, notificationType: 'SUBSCRIPTION_TELEPORTED', subtype: 'SOMEWHERE', notificationUUID: randomUUID() });
    const res = await a.app.inject({ method: 'POST', url: '/webhooks/apple', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ signedPayload: future }) });
    expect(res.statusCode).toBe(200);
    await a.settle();
    const [row] = await a.hub.db.getRepository(PayNotifyLog).find();
    expect(row).toMatchObject({ eventType: 'SUBSCRIPTION_TELEPORTED/SOMEWHERE', handled: 1, error: 'notification type the hub does not know: stored, not applied' });
    expect(await a.orders()).toHaveLength(0);
    expect(a.hub.logText()).toMatch(/app store notification of an unknown type/);
  });

  it('a notification job run again, in any order, leaves the same rows', async () => {
    const { uid, token } = await a.addUser();
    const sub = a.emulator.subscribe({ productId: PRODUCTS.monthly.productId, appAccountToken: token });
    const p2 = a.emulator.renew(sub.originalTransactionId);
    a.emulator.advance(DAY);
    a.emulator.failRenewal(sub.originalTransactionId, { grace: true });
    a.emulator.advance(DAY);
    a.emulator.refund(p2.transactionId);
    await a.settle();
    const snapshot = async () => ({
      orders: await a.orders(),
      // The hub's bookkeeping rows keep their state; only their updated_time says they were looked at again.
      subs: (await a.hub.db.getRepository(HubAppleSubscription).find()).map(({ updatedTime: _t, ...s }) => s),
      txns: (await a.hub.db.getRepository(HubAppleTransaction).find({ order: { transactionId: 'ASC' } })).map(({ updatedTime: _t, ...t }) => t),
      user: await a.hub.db.getRepository(AppUser).findOneByOrFail({ uid }),
      audits: await a.hub.db.getRepository(DmsBusinessLog).countBy({ businessSource: BusinessSource.APPLE_ORDER }),
    });
    const before = await snapshot();
    expect(before.orders).toHaveLength(2);

    const rows = await a.hub.db.getRepository(PayNotifyLog).find({ order: { id: 'DESC' } });
    expect(rows).toHaveLength(4);
    await a.hub.db.getRepository(PayNotifyLog).update({ channel: 'APPLE' }, { handled: 0 });
    for (const row of rows) {
      const { id } = await a.hub.enqueue(appleHandleNotification, { payNotifyLogId: row.id }, { jobId: `again-${row.id}` });
      await (await a.hub.queues.get('payments').getJob(id))?.waitUntilFinished(a.events, 20_000);
    }
    const after = await snapshot();
    expect(after).toEqual(before);
    expect(await a.hub.db.getRepository(AppleOrder).countBy({ uid: 0 })).toBe(0);
  });
});
