import type { JWSRenewalInfoDecodedPayload, JWSTransactionDecodedPayload } from '@apple/app-store-server-library';
import { AppleStatus } from '../../integrations/apple/apple.client';
import { AppleOrderProductType, ApplePaymentStatus, AppleSubscriptionStatusCode as Sub } from '../../entities/app/apple-order.entity';

/**
 * Apple's words to the seed's codes: pure functions of one verified state, so the apply step, the
 * sync and the reconciliation read a transaction the same way.
 */

const PRODUCT_TYPES: Record<string, number> = {
  Consumable: AppleOrderProductType.CONSUMABLE,
  'Non-Consumable': AppleOrderProductType.NON_CONSUMABLE,
  'Auto-Renewable Subscription': AppleOrderProductType.AUTO_RENEWABLE,
  'Non-Renewing Subscription': AppleOrderProductType.NON_RENEWING,
};

export function productTypeOf(tx: JWSTransactionDecodedPayload): number | null {
  return tx.type === undefined ? null : (PRODUCT_TYPES[tx.type] ?? null);
}

/** DATETIME columns hold whole seconds: cut here, so every server stores the same value. */
export function toSeconds(ms: number | null | undefined): Date | null {
  return ms === undefined || ms === null ? null : new Date(Math.floor(ms / 1000) * 1000);
}

/** The Apple-side fields of an `apple_order` row, as this transaction states them. */
export interface AppleOrderFacts {
  appleProductId: string;
  productType: number;
  paymentStatus: number;
  originalTransactionId: string;
  purchaseDate: Date | null;
  originalPurchaseDate: Date | null;
  expiresDate: Date | null;
  cancellationDate: Date | null;
  isTrialPeriod: number;
  isInIntroOfferPeriod: number;
  environment: string;
}

/** An intro offer that is a free trial counts as a trial, as receipts had it; any other intro offer as intro. */
const INTRO_OFFER = 1;

export function orderFacts(tx: JWSTransactionDecodedPayload & { transactionId: string; originalTransactionId: string }, productType: number, environment: string): AppleOrderFacts {
  const trial = tx.offerType === INTRO_OFFER && tx.offerDiscountType === 'FREE_TRIAL';
  return {
    appleProductId: tx.productId ?? '',
    productType,
    // A refund or revocation (family sharing ended) sets revocationDate; a reversed refund clears it.
    paymentStatus: tx.revocationDate ? ApplePaymentStatus.REFUNDED : ApplePaymentStatus.PAID,
    originalTransactionId: tx.originalTransactionId,
    purchaseDate: toSeconds(tx.purchaseDate),
    originalPurchaseDate: toSeconds(tx.originalPurchaseDate),
    expiresDate: toSeconds(tx.expiresDate),
    cancellationDate: toSeconds(tx.revocationDate),
    isTrialPeriod: trial ? 1 : 0,
    isInIntroOfferPeriod: tx.offerType === INTRO_OFFER && !trial ? 1 : 0,
    environment,
  };
}

/** Apple's status code (status API, `data.status`) to the seed's subscription_status. */
const FROM_APPLE_STATUS: Record<number, number> = {
  [AppleStatus.ACTIVE]: Sub.ACTIVE,
  [AppleStatus.EXPIRED]: Sub.EXPIRED,
  // Billing retry without grace: no access, as an expired subscription.
  [AppleStatus.BILLING_RETRY]: Sub.EXPIRED,
  [AppleStatus.BILLING_GRACE_PERIOD]: Sub.GRACE,
  [AppleStatus.REVOKED]: Sub.CANCELLED,
};

/** What a notification type says of the subscription as a whole; null when it says nothing new. */
function statusOfNotification(type: string | null, subtype: string | null): number | null {
  switch (type) {
    case 'SUBSCRIBED':
    case 'DID_RENEW':
    case 'OFFER_REDEEMED':
    case 'RENEWAL_EXTENDED':
      return Sub.ACTIVE;
    case 'DID_CHANGE_RENEWAL_PREF':
      return subtype === 'UPGRADE' ? Sub.ACTIVE : null;
    case 'DID_FAIL_TO_RENEW':
      return subtype === 'GRACE_PERIOD' ? Sub.GRACE : Sub.EXPIRED;
    case 'GRACE_PERIOD_EXPIRED':
    case 'EXPIRED':
      return Sub.EXPIRED;
    default:
      return null;
  }
}

export interface SubscriptionView {
  /** The seed's code of the latest period. */
  status: number;
  graceExpiresDate: Date | null;
}

/**
 * The subscription's state as of `signedDate`: Apple's status code when it gave one,
 * else what the notification type says, else what the state before it said, else the expiry.
 */
export function subscriptionView(
  input: { status: number | null; notificationType: string | null; subtype: string | null; signedDate: number; transaction: JWSTransactionDecodedPayload; renewal: JWSRenewalInfoDecodedPayload | null },
  before: number | null,
): SubscriptionView {
  const fromApple = input.status === null ? undefined : FROM_APPLE_STATUS[input.status];
  const expiresMs = input.transaction.expiresDate ?? 0;
  const status = fromApple ?? statusOfNotification(input.notificationType, input.subtype) ?? before ?? (expiresMs > input.signedDate ? Sub.ACTIVE : Sub.EXPIRED);
  const graceMs = input.renewal?.gracePeriodExpiresDate ?? null;
  return { status, graceExpiresDate: status === Sub.GRACE ? toSeconds(graceMs ?? expiresMs) : null };
}
