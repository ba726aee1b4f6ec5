import type { AppleIntegration, VerifiedAppleNotification } from '../../integrations/apple/apple.client';
import type { AppleEmulator, SentNotification } from '../../integrations/apple/emulator/apple.emulator';
import { appleIntegrationFor, startAppleEmulator } from '../support/apple';

/**
 * The emulator's scenario drivers, read back through the hub's verifier and API client: what each
 * App Store event changes and which notifications it sends.
 */

const DAY = 86_400_000;
const BASIC = 'vip.basic.monthly';
const PREMIUM = 'vip.premium.monthly';
let emu: AppleEmulator;
let apple: AppleIntegration;
let n = 0;
const token = (): string => `11111111-0000-4000-8000-${String((n += 1)).padStart(12, '0')}`;

const verify = (sent: readonly SentNotification[]): Promise<VerifiedAppleNotification[]> => Promise.all(sent.map((s) => apple.verifier.verifyNotification(s.signedPayload)));
const kinds = (v: readonly VerifiedAppleNotification[]): string[] => v.map((x) => `${x.payload.notificationType}/${x.payload.subtype ?? ''}`);

describe('App Store emulator scenarios', () => {
  beforeAll(async () => {
    // A clock that stands still unless advance() moves it, so dates can be compared exactly.
    const start = Date.now();
    emu = await startAppleEmulator({ now: () => start });
    emu.addProduct({ productId: BASIC, type: 'Auto-Renewable Subscription', groupId: 'vip', periodMs: 30 * DAY, priceMilliunits: 18_000, gracePeriodMs: 16 * DAY });
    emu.addProduct({ productId: PREMIUM, type: 'Auto-Renewable Subscription', groupId: 'vip', periodMs: 30 * DAY, priceMilliunits: 30_000 });
    apple = appleIntegrationFor(emu);
  });
  afterAll(() => emu.stop());

  it('renews back to back, fails into grace, loses grace, recovers with a period starting at recovery', async () => {
    const sub = emu.subscribe({ productId: BASIC, appAccountToken: token(), deliver: false });
    const second = emu.renew(sub.originalTransactionId, { deliver: false });
    const grace = emu.failRenewal(sub.originalTransactionId, { grace: true, deliver: false });
    const retry = emu.expireGrace(sub.originalTransactionId, { deliver: false });
    emu.advance(3 * DAY);
    const recovered = emu.recover(sub.originalTransactionId, { deliver: false });
    const all = await verify([...sub.sent, ...second.sent, ...grace.sent, ...retry.sent, ...recovered.sent]);
    expect(kinds(all)).toEqual(['SUBSCRIBED/INITIAL_BUY', 'DID_RENEW/', 'DID_FAIL_TO_RENEW/GRACE_PERIOD', 'GRACE_PERIOD_EXPIRED/', 'DID_RENEW/BILLING_RECOVERY']);
    expect(all.map((v) => v.payload.data?.status)).toEqual([1, 1, 4, 3, 1]);
    // The clock stood still between most of them; signedDate still orders them.
    const dates = all.map((v) => v.payload.signedDate ?? 0);
    expect(dates).toEqual([...dates].sort((x, y) => x - y));
    expect(new Set(dates).size).toBe(dates.length);
    const [first, renewed, inGrace, , back] = all;
    expect(renewed?.transaction?.purchaseDate).toBe(first?.transaction?.expiresDate);
    expect(inGrace?.renewal).toMatchObject({ isInBillingRetryPeriod: true, gracePeriodExpiresDate: (renewed?.transaction?.expiresDate ?? 0) + 16 * DAY });
    expect(back?.transaction?.purchaseDate).toBe(emu.now());
    expect(back?.transaction?.expiresDate).toBe(emu.now() + 30 * DAY);
    expect(back?.renewal?.isInBillingRetryPeriod).toBe(false);
    const [status] = await apple.api.getAllSubscriptionStatuses('Production', sub.originalTransactionId);
    expect(status).toMatchObject({ status: 1, transaction: { transactionId: recovered.transactionId } });
  });

  it('upgrades at once, marking the old transaction upgraded (but not during an intro offer), and downgrades at the next renewal', async () => {
    const plain = emu.subscribe({ productId: BASIC, appAccountToken: token(), deliver: false });
    const up = emu.upgrade(plain.originalTransactionId, PREMIUM, { deliver: false });
    const [notice] = await verify(up.sent);
    expect(kinds(notice ? [notice] : [])).toEqual(['DID_CHANGE_RENEWAL_PREF/UPGRADE']);
    expect(notice?.transaction).toMatchObject({ originalTransactionId: plain.originalTransactionId, productId: PREMIUM, purchaseDate: emu.now() });
    await expect(apple.api.getTransactionInfo('Production', plain.transactionId)).resolves.toMatchObject({ isUpgraded: true });

    const down = await verify(emu.downgrade(plain.originalTransactionId, BASIC, { deliver: false }).sent);
    expect(down[0]).toMatchObject({ payload: { subtype: 'DOWNGRADE' }, transaction: { productId: PREMIUM }, renewal: { productId: PREMIUM, autoRenewProductId: BASIC } });
    const next = await verify(emu.renew(plain.originalTransactionId, { deliver: false }).sent);
    expect(next[0]?.transaction?.productId).toBe(BASIC);

    const intro = emu.subscribe({ productId: BASIC, appAccountToken: token(), offer: 'intro', deliver: false });
    emu.upgrade(intro.originalTransactionId, PREMIUM, { deliver: false });
    const history = await apple.api.getTransactionHistory('Production', intro.originalTransactionId, null);
    const active = history.transactions.filter((t) => !t.isUpgraded && (t.expiresDate ?? 0) > emu.now());
    expect(active.map((t) => [t.productId, t.subscriptionGroupIdentifier])).toEqual([
      [BASIC, 'vip'],
      [PREMIUM, 'vip'],
    ]);
    expect(history.transactions[0]).toMatchObject({ offerType: 1, offerDiscountType: 'PAY_AS_YOU_GO' });
  });

  it('refunds a past period without ending the subscription; refunding the current one revokes it, reversing restores it', async () => {
    const sub = emu.subscribe({ productId: BASIC, appAccountToken: token(), deliver: false });
    const latest = emu.renew(sub.originalTransactionId, { deliver: false });
    const past = await verify(emu.refund(sub.transactionId, { deliver: false }).sent);
    expect(past[0]).toMatchObject({ payload: { notificationType: 'REFUND', data: { status: 1 } }, transaction: { transactionId: sub.transactionId, revocationReason: 0 } });
    const current = await verify(emu.refund(latest.transactionId, { deliver: false }).sent);
    expect(current[0]?.payload.data?.status).toBe(5);
    const declined = await verify(emu.declineRefund(latest.transactionId, { deliver: false }).sent);
    expect(declined[0]?.payload.data?.status).toBe(5);
    const reversed = await verify(emu.reverseRefund(latest.transactionId, { deliver: false }).sent);
    expect(reversed[0]).toMatchObject({ payload: { notificationType: 'REFUND_REVERSED', data: { status: 1 } } });
    expect(reversed[0]?.transaction?.revocationDate).toBeUndefined();
  });

  it('renews family members with the purchaser and revokes them when the purchaser is refunded', async () => {
    const owner = emu.subscribe({ productId: BASIC, appAccountToken: token(), deliver: false });
    const member = emu.familyShare(owner.originalTransactionId, { deliver: false });
    const joined = await verify(member.sent);
    expect(joined[0]?.transaction).toMatchObject({ inAppOwnershipType: 'FAMILY_SHARED', originalTransactionId: member.originalTransactionId });
    expect(joined[0]?.transaction?.appAccountToken).toBeUndefined();
    const renewal = await verify(emu.renew(owner.originalTransactionId, { deliver: false }).sent);
    expect(renewal.map((v) => v.transaction?.originalTransactionId)).toEqual([owner.originalTransactionId, member.originalTransactionId]);
    const refund = await verify(emu.refund(renewal[0]?.transaction?.transactionId ?? '', { deliver: false }).sent);
    expect(kinds(refund)).toEqual(['REFUND/', 'REVOKE/']);
    expect(refund[1]?.transaction).toMatchObject({ originalTransactionId: member.originalTransactionId, revocationReason: 0, revocationType: 'FAMILY_REVOKE' });
  });

  it('sends auto-renew changes, voluntary expiry and TEST notifications', async () => {
    const sub = emu.subscribe({ productId: BASIC, appAccountToken: token(), environment: 'Sandbox', deliver: false });
    const off = await verify(emu.setAutoRenew(sub.originalTransactionId, false, { deliver: false }).sent);
    expect(off[0]).toMatchObject({ environment: 'Sandbox', payload: { subtype: 'AUTO_RENEW_DISABLED' }, renewal: { autoRenewStatus: 0, expirationIntent: 1 } });
    const expired = await verify(emu.expire(sub.originalTransactionId, 'VOLUNTARY', { deliver: false }).sent);
    expect(expired[0]).toMatchObject({ payload: { notificationType: 'EXPIRED', subtype: 'VOLUNTARY', data: { status: 2 } } });
    const [test] = await verify(emu.sendTest({ deliver: false }).sent);
    expect(test).toMatchObject({ environment: 'Production', payload: { notificationType: 'TEST' }, transaction: null, renewal: null });
  });
});
