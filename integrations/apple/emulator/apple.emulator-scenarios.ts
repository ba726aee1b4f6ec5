import { randomUUID } from 'node:crypto';
import type { AppleEnvironment } from '../apple.client';
import type { NotificationSender } from './apple.emulator-notify';
import type { EmulatedSubscription, EmulatedTransaction, EmulatorState } from './apple.emulator-state';
import type { DriverOptions, PurchaseOptions, ScenarioResult, SentNotification, SubscribeOptions } from './apple.emulator-types';

/**
 * What happens at the App Store, one method per event: each changes the state as Apple would and
 * sends the notifications Apple sends for it.
 */

const DEFAULT_GRACE_MS = 6 * 86_400_000;
const EXPIRATION_INTENT = { VOLUNTARY: 1, BILLING_RETRY: 2, PRICE_INCREASE: 3, PRODUCT_NOT_FOR_SALE: 4 } as const;
export type ExpirySubtype = keyof typeof EXPIRATION_INTENT;

interface Emit {
  readonly type: string;
  readonly subtype?: string;
  readonly tx?: EmulatedTransaction;
  readonly sub?: EmulatedSubscription;
  readonly environment: AppleEnvironment;
}

export class Scenarios {
  constructor(
    private readonly st: EmulatorState,
    private readonly sender: NotificationSender,
    private readonly sign: (payload: object) => string,
  ) {}

  subscribe(o: SubscribeOptions): ScenarioResult {
    const product = this.st.product(o.productId);
    if (product.type !== 'Auto-Renewable Subscription') throw new Error(`emulator: ${o.productId} is not an auto-renewable subscription`);
    const tx = this.st.originalTransaction({ productId: o.productId, environment: o.environment ?? 'Production', ...(o.appAccountToken ? { appAccountToken: o.appAccountToken } : {}), ...(o.offer ? { offer: o.offer } : {}) });
    const id = tx.transactionId;
    const sub: EmulatedSubscription = {
      originalTransactionId: id,
      productId: o.productId,
      autoRenewProductId: o.productId,
      autoRenewStatus: 1,
      groupId: tx.subscriptionGroupIdentifier ?? '',
      environment: tx.environment,
      ...(o.appAccountToken ? { appAccountToken: o.appAccountToken } : {}),
      customer: tx.customer,
      status: 1,
      isInBillingRetryPeriod: false,
      latestTransactionId: id,
      family: [],
    };
    this.st.subscriptions.set(id, sub);
    return this.result(sub, tx, o, [{ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', tx, sub, environment: sub.environment }]);
  }

  purchase(o: PurchaseOptions): ScenarioResult {
    const product = this.st.product(o.productId);
    if (product.type === 'Auto-Renewable Subscription') throw new Error(`emulator: ${o.productId} is auto-renewable: use subscribe()`);
    const tx = this.st.originalTransaction({ productId: o.productId, environment: o.environment ?? 'Production', ...(o.appAccountToken ? { appAccountToken: o.appAccountToken } : {}) });
    return this.result(null, tx, o, [{ type: 'ONE_TIME_CHARGE', tx, environment: tx.environment }]);
  }

  renew(otid: string, o: DriverOptions = {}): ScenarioResult {
    const sub = this.st.subscription(otid);
    if (sub.status !== 1) throw new Error(`emulator: cannot renew a subscription in status ${sub.status} (use recover())`);
    const prev = this.st.latest(sub);
    const start = prev.expiresDate ?? this.st.now();
    const tx = this.nextPeriod(sub, start);
    const emits: Emit[] = [{ type: 'DID_RENEW', tx, sub, environment: sub.environment }];
    // Family members renew with the purchaser.
    for (const memberOtid of sub.family) {
      const member = this.st.subscription(memberOtid);
      if (member.status !== 1) continue;
      const memberTx = this.nextPeriod(member, start, tx.productId);
      emits.push({ type: 'DID_RENEW', tx: memberTx, sub: member, environment: member.environment });
    }
    return this.result(sub, tx, o, emits);
  }

  failRenewal(otid: string, o: { grace: boolean } & DriverOptions): ScenarioResult {
    const sub = this.st.subscription(otid);
    const latest = this.st.latest(sub);
    sub.isInBillingRetryPeriod = true;
    sub.expirationIntent = EXPIRATION_INTENT.BILLING_RETRY;
    if (o.grace) {
      sub.status = 4;
      sub.gracePeriodExpiresDate = (latest.expiresDate ?? this.st.now()) + (this.st.product(sub.productId).gracePeriodMs ?? DEFAULT_GRACE_MS);
    } else {
      sub.status = 3;
    }
    return this.result(sub, latest, o, [{ type: 'DID_FAIL_TO_RENEW', ...(o.grace ? { subtype: 'GRACE_PERIOD' } : {}), tx: latest, sub, environment: sub.environment }]);
  }

  expireGrace(otid: string, o: DriverOptions = {}): ScenarioResult {
    const sub = this.st.subscription(otid);
    if (sub.status !== 4) throw new Error(`emulator: subscription ${otid} is not in grace`);
    sub.status = 3;
    const latest = this.st.latest(sub);
    return this.result(sub, latest, o, [{ type: 'GRACE_PERIOD_EXPIRED', tx: latest, sub, environment: sub.environment }]);
  }

  recover(otid: string, o: DriverOptions = {}): ScenarioResult {
    const sub = this.st.subscription(otid);
    if (sub.status !== 3 && sub.status !== 4) throw new Error(`emulator: subscription ${otid} is not in billing retry`);
    sub.status = 1;
    sub.isInBillingRetryPeriod = false;
    delete sub.gracePeriodExpiresDate;
    delete sub.expirationIntent;
    // A recovered subscription's new period starts when the charge succeeds.
    const tx = this.nextPeriod(sub, this.st.now());
    return this.result(sub, tx, o, [{ type: 'DID_RENEW', subtype: 'BILLING_RECOVERY', tx, sub, environment: sub.environment }]);
  }

  expire(otid: string, subtype: ExpirySubtype = 'VOLUNTARY', o: DriverOptions = {}): ScenarioResult {
    const sub = this.st.subscription(otid);
    sub.status = 2;
    sub.isInBillingRetryPeriod = false;
    sub.expirationIntent = EXPIRATION_INTENT[subtype];
    if (subtype === 'VOLUNTARY') sub.autoRenewStatus = 0;
    delete sub.gracePeriodExpiresDate;
    const latest = this.st.latest(sub);
    return this.result(sub, latest, o, [{ type: 'EXPIRED', subtype, tx: latest, sub, environment: sub.environment }]);
  }

  setAutoRenew(otid: string, on: boolean, o: DriverOptions = {}): ScenarioResult {
    const sub = this.st.subscription(otid);
    sub.autoRenewStatus = on ? 1 : 0;
    if (on) delete sub.expirationIntent;
    else sub.expirationIntent = EXPIRATION_INTENT.VOLUNTARY;
    const latest = this.st.latest(sub);
    const subtype = on ? 'AUTO_RENEW_ENABLED' : 'AUTO_RENEW_DISABLED';
    return this.result(sub, latest, o, [{ type: 'DID_CHANGE_RENEWAL_STATUS', subtype, tx: latest, sub, environment: sub.environment }]);
  }

  refund(transactionId: string, o: DriverOptions = {}): ScenarioResult {
    const tx = this.st.transaction(transactionId);
    if (tx.revocationDate !== undefined) throw new Error(`emulator: ${transactionId} is already refunded`);
    this.revoke(tx, 'REFUND_FULL');
    const sub = this.st.subscriptions.get(tx.originalTransactionId) ?? null;
    const emits: Emit[] = [];
    // Only the refund of the current period ends the subscription; an older period's refund changes no access.
    if (sub && sub.latestTransactionId === tx.transactionId) {
      sub.status = 5;
      for (const memberOtid of sub.family) {
        const member = this.st.subscription(memberOtid);
        if (member.status === 5) continue;
        emits.push(...this.revokeMember(member));
      }
    }
    return this.result(sub, tx, o, [{ type: 'REFUND', tx, ...(sub ? { sub } : {}), environment: tx.environment }, ...emits]);
  }

  reverseRefund(transactionId: string, o: DriverOptions = {}): ScenarioResult {
    const tx = this.st.transaction(transactionId);
    delete tx.revocationDate;
    delete tx.revocationReason;
    delete tx.revocationType;
    delete tx.revocationPercentage;
    delete tx.refunded;
    this.st.touch(tx);
    const sub = this.st.subscriptions.get(tx.originalTransactionId) ?? null;
    if (sub && sub.latestTransactionId === tx.transactionId && sub.status === 5) sub.status = (tx.expiresDate ?? Infinity) > this.st.now() ? 1 : 2;
    return this.result(sub, tx, o, [{ type: 'REFUND_REVERSED', tx, ...(sub ? { sub } : {}), environment: tx.environment }]);
  }

  declineRefund(transactionId: string, o: DriverOptions = {}): ScenarioResult {
    const tx = this.st.transaction(transactionId);
    const sub = this.st.subscriptions.get(tx.originalTransactionId) ?? null;
    return this.result(sub, tx, o, [{ type: 'REFUND_DECLINED', tx, ...(sub ? { sub } : {}), environment: tx.environment }]);
  }

  upgrade(otid: string, newProductId: string, o: DriverOptions = {}): ScenarioResult {
    const sub = this.st.subscription(otid);
    if (this.st.groupOf(newProductId) !== sub.groupId) throw new Error(`emulator: ${newProductId} is not in group ${sub.groupId}`);
    const old = this.st.latest(sub);
    // During an introductory offer the App Store leaves the old transaction unmarked: two products of
    // one group look active until the old one expires.
    if (old.offerType === undefined) {
      old.isUpgraded = true;
      this.st.touch(old);
    }
    sub.productId = newProductId;
    sub.autoRenewProductId = newProductId;
    sub.status = 1;
    const tx = this.nextPeriod(sub, this.st.now(), newProductId, 'PURCHASE');
    return this.result(sub, tx, o, [{ type: 'DID_CHANGE_RENEWAL_PREF', subtype: 'UPGRADE', tx, sub, environment: sub.environment }]);
  }

  /** Takes effect at the next renewal: only the renewal info changes now. */
  downgrade(otid: string, newProductId: string, o: DriverOptions = {}): ScenarioResult {
    const sub = this.st.subscription(otid);
    if (this.st.groupOf(newProductId) !== sub.groupId) throw new Error(`emulator: ${newProductId} is not in group ${sub.groupId}`);
    sub.autoRenewProductId = newProductId;
    const latest = this.st.latest(sub);
    return this.result(sub, latest, o, [{ type: 'DID_CHANGE_RENEWAL_PREF', subtype: 'DOWNGRADE', tx: latest, sub, environment: sub.environment }]);
  }

  /** The customer asked for a refund of a consumable: Apple asks the developer for consumption data. */
  consumptionRequest(transactionId: string, o: DriverOptions = {}): ScenarioResult {
    const tx = this.st.transaction(transactionId);
    return this.result(null, tx, o, [{ type: 'CONSUMPTION_REQUEST', tx, environment: tx.environment }]);
  }

  familyShare(otid: string, o: DriverOptions = {}): ScenarioResult {
    const owner = this.st.subscription(otid);
    const ownerTx = this.st.latest(owner);
    const tx = this.st.originalTransaction({ productId: ownerTx.productId, environment: owner.environment, ownership: 'FAMILY_SHARED', price: 0, ...(ownerTx.expiresDate !== undefined ? { expiresDate: ownerTx.expiresDate } : {}) });
    const id = tx.transactionId;
    const member: EmulatedSubscription = { ...owner, originalTransactionId: id, customer: tx.customer, latestTransactionId: id, family: [], sharedFrom: otid, autoRenewStatus: owner.autoRenewStatus };
    delete member.appAccountToken;
    this.st.subscriptions.set(id, member);
    owner.family.push(id);
    return this.result(member, tx, o, [{ type: 'SUBSCRIBED', subtype: 'INITIAL_BUY', tx, sub: member, environment: member.environment }]);
  }

  revokeFamily(familyOtid: string, o: DriverOptions = {}): ScenarioResult {
    const member = this.st.subscription(familyOtid);
    if (!member.sharedFrom) throw new Error(`emulator: ${familyOtid} is not a family-shared subscription`);
    return this.result(member, this.st.latest(member), o, this.revokeMember(member));
  }

  sendTest(o: DriverOptions & { environment?: AppleEnvironment } = {}): ScenarioResult {
    return this.result(null, null, o, [{ type: 'TEST', environment: o.environment ?? 'Production' }]);
  }

  /** Posts notifications made earlier with `deliver: false`. */
  deliver(notifications: readonly SentNotification[]): void {
    this.sender.sendInOrder(notifications.map((n) => this.sender.entry(n.notificationUUID)));
  }

  private revokeMember(member: EmulatedSubscription): Emit[] {
    const tx = this.st.latest(member);
    this.revoke(tx, 'FAMILY_REVOKE');
    member.status = 5;
    member.autoRenewStatus = 0;
    return [{ type: 'REVOKE', tx, sub: member, environment: member.environment }];
  }

  private revoke(tx: EmulatedTransaction, type: 'REFUND_FULL' | 'FAMILY_REVOKE'): void {
    tx.revocationDate = this.st.now();
    tx.revocationReason = 0;
    tx.revocationType = type;
    if (type === 'REFUND_FULL') tx.revocationPercentage = 100_000;
    tx.refunded = this.st.tick();
    this.st.touch(tx);
  }

  private nextPeriod(sub: EmulatedSubscription, start: number, productId = sub.autoRenewProductId, reason: 'PURCHASE' | 'RENEWAL' = 'RENEWAL'): EmulatedTransaction {
    const first = this.st.transaction(sub.originalTransactionId);
    const tx = this.st.addTransaction({
      transactionId: this.st.newId(),
      originalTransactionId: sub.originalTransactionId,
      webOrderLineItemId: this.st.newId(),
      productId,
      subscriptionGroupIdentifier: sub.groupId,
      purchaseDate: start,
      originalPurchaseDate: first.originalPurchaseDate,
      expiresDate: start + this.st.periodOf(productId),
      type: 'Auto-Renewable Subscription',
      ...(sub.appAccountToken ? { appAccountToken: sub.appAccountToken } : {}),
      inAppOwnershipType: first.inAppOwnershipType,
      environment: sub.environment,
      transactionReason: reason,
      price: first.inAppOwnershipType === 'FAMILY_SHARED' ? 0 : (this.st.product(productId).priceMilliunits ?? 0),
      customer: sub.customer,
    });
    sub.productId = productId;
    sub.latestTransactionId = tx.transactionId;
    return tx;
  }

  private result(sub: EmulatedSubscription | null, tx: EmulatedTransaction | null, o: DriverOptions, emits: readonly Emit[]): ScenarioResult {
    const sent = emits.map((e) => {
      const signedDate = this.st.stamp();
      const payload = {
        notificationType: e.type,
        ...(e.subtype ? { subtype: e.subtype } : {}),
        notificationUUID: randomUUID(),
        version: '2.0',
        signedDate,
        data: {
          // Apple leaves appAppleId out of Sandbox notifications.
          ...(e.environment === 'Production' ? { appAppleId: this.st.appAppleId } : {}),
          bundleId: this.st.bundleId,
          bundleVersion: '1.0',
          environment: e.environment,
          ...(e.tx ? { signedTransactionInfo: this.st.signTransaction(e.tx) } : {}),
          ...(e.sub ? { signedRenewalInfo: this.st.signRenewal(e.sub), status: e.sub.status } : {}),
        },
      };
      const notification: SentNotification = { notificationUUID: payload.notificationUUID, notificationType: e.type, subtype: e.subtype ?? null, signedDate, signedPayload: this.sign(payload) };
      const entry = this.sender.record(notification, e.environment, e.tx?.customer ?? null);
      if (o.deliver !== false) this.sender.send(entry);
      return notification;
    });
    return { originalTransactionId: sub?.originalTransactionId ?? tx?.originalTransactionId ?? '', transactionId: tx?.transactionId ?? '', sent };
  }
}
