import type { JWSRenewalInfoDecodedPayload, JWSTransactionDecodedPayload, ResponseBodyV2DecodedPayload, SendAttemptItem } from '@apple/app-store-server-library';

/**
 * The App Store as jobs and routes see it. Everything handed out here has been verified: signed
 * payloads went through Apple's `SignedDataVerifier` (chain to a configured root, marker OIDs,
 * bundle id, app Apple id, environment) before they were decoded.
 */

export const APPLE_ENVIRONMENTS = ['Production', 'Sandbox'] as const;
export type AppleEnvironment = (typeof APPLE_ENVIRONMENTS)[number];

/** Apple's subscription status codes (Get All Subscription Statuses), not the seed's. */
export const AppleStatus = { ACTIVE: 1, EXPIRED: 2, BILLING_RETRY: 3, BILLING_GRACE_PERIOD: 4, REVOKED: 5 } as const;

/** A notification whose chain, bundle, app and environment checked out, with its inner JWS verified and decoded too. */
export interface VerifiedAppleNotification {
  /** The environment whose verifier accepted it: App Review and TestFlight send Sandbox to production servers. */
  readonly environment: AppleEnvironment;
  readonly payload: ResponseBodyV2DecodedPayload;
  readonly transaction: JWSTransactionDecodedPayload | null;
  readonly renewal: JWSRenewalInfoDecodedPayload | null;
}

export interface AppleVerifier {
  /**
   * Tries the verifier of each configured environment. An unverifiable payload throws a
   * `PermanentError` (code `APPLE_VERIFICATION_<status>`); a verification that could not be
   * completed (online checks unreachable) throws a `RetryableError`.
   */
  verifyNotification(signedPayload: string): Promise<VerifiedAppleNotification>;
  verifyTransaction(environment: AppleEnvironment, signedTransaction: string): Promise<JWSTransactionDecodedPayload>;
  verifyRenewalInfo(environment: AppleEnvironment, signedRenewalInfo: string): Promise<JWSRenewalInfoDecodedPayload>;
}

/** One subscription's latest state from Get All Subscription Statuses, verified and decoded. */
export interface AppleSubscriptionStatus {
  readonly subscriptionGroupIdentifier: string | null;
  readonly originalTransactionId: string;
  /** Apple's code: see `AppleStatus`. */
  readonly status: number;
  readonly transaction: JWSTransactionDecodedPayload;
  readonly renewal: JWSRenewalInfoDecodedPayload | null;
}

export interface AppleTransactionPage {
  readonly transactions: readonly JWSTransactionDecodedPayload[];
  /** Kept to ask only for what is new next time. */
  readonly revision: string | null;
  readonly hasMore: boolean;
}

export interface AppleNotificationHistoryItem {
  readonly signedPayload: string;
  /** `signedPayload` verified (as the webhook would) and decoded. */
  readonly notification: VerifiedAppleNotification;
  readonly sendAttempts: readonly SendAttemptItem[];
}

export interface AppleNotificationHistoryPage {
  readonly items: readonly AppleNotificationHistoryItem[];
  readonly paginationToken: string | null;
  readonly hasMore: boolean;
}

export interface AppleNotificationHistoryQuery {
  /** Epoch milliseconds, inclusive. */
  readonly startDate: number;
  /** Epoch milliseconds, exclusive. */
  readonly endDate: number;
  readonly onlyFailures?: boolean;
  readonly transactionId?: string;
}

/**
 * The App Store Server API (ES256 JWT per request). Errors come out as the hub's classes
 * (`apple.errors.ts`): the `_RETRYABLE` codes, 429 and 5000001 retryable or rate-limited; 4040010 and
 * the other "never" codes permanent.
 */
export interface AppleApi {
  getTransactionInfo(environment: AppleEnvironment, transactionId: string): Promise<JWSTransactionDecodedPayload>;
  getTransactionHistory(environment: AppleEnvironment, anyTransactionId: string, revision: string | null): Promise<AppleTransactionPage>;
  getAllSubscriptionStatuses(environment: AppleEnvironment, anyTransactionId: string): Promise<readonly AppleSubscriptionStatus[]>;
  getNotificationHistory(environment: AppleEnvironment, query: AppleNotificationHistoryQuery, paginationToken: string | null): Promise<AppleNotificationHistoryPage>;
  getRefundHistory(environment: AppleEnvironment, anyTransactionId: string, revision: string | null): Promise<AppleTransactionPage>;
}

export interface AppleIntegration {
  readonly bundleId: string;
  /** The environments this hub accepts, in the order their verifiers are tried (APPLE_ENVIRONMENTS). */
  readonly environments: readonly AppleEnvironment[];
  /** Whether Sandbox purchases grant VIP (APPLE_SANDBOX_GRANTS_VIP): on by default, so App Review works. */
  readonly sandboxGrantsVip: boolean;
  readonly verifier: AppleVerifier;
  readonly api: AppleApi;
}

/** An App Store Connect API key (In-App Purchase type): the issuer, the key's id and its ES256 private key. */
export interface AppleApiKey {
  readonly issuerId: string;
  readonly keyId: string;
  readonly privateKeyPem: string;
}
