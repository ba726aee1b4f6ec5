import type { AppleEnvironment } from '../apple.client';

/** Types the App Store emulator's parts and its callers share. */

export type AppleProductType = 'Auto-Renewable Subscription' | 'Non-Renewing Subscription' | 'Non-Consumable' | 'Consumable';

export interface EmulatedProduct {
  readonly productId: string;
  readonly type: AppleProductType;
  /** Length of one billing period (auto-renewables; a month by default). */
  readonly periodMs?: number;
  /** Subscription group (auto-renewables; one group per product by default). */
  readonly groupId?: string;
  readonly priceMilliunits?: number;
  /** Billing grace period offered on this product (none by default). */
  readonly gracePeriodMs?: number;
}

/** Chains the emulator can sign with: `trusted`, the ways a verifier must refuse one, and one whose revocation endpoint is down (online checks). */
export type AppleChain = 'trusted' | 'untrustedRoot' | 'missingLeafOid' | 'missingIntermediateOid' | 'twoCertificates' | 'expiredLeaf' | 'ocspUnavailable';

export interface SentNotification {
  readonly notificationUUID: string;
  readonly notificationType: string;
  readonly subtype: string | null;
  readonly signedDate: number;
  readonly signedPayload: string;
}

export interface ScenarioResult {
  readonly originalTransactionId: string;
  /** The transaction the scenario created or acted on. */
  readonly transactionId: string;
  /** What the App Store sent (or, with `deliver: false`, would have sent) to the notification URL. */
  readonly sent: readonly SentNotification[];
}

export interface DriverOptions {
  /** False: sign the notifications and return them without posting (the test posts them, in any order). */
  readonly deliver?: boolean;
}

export interface SubscribeOptions extends DriverOptions {
  readonly productId: string;
  readonly appAccountToken?: string;
  readonly environment?: AppleEnvironment;
  readonly offer?: 'intro' | 'trial';
}

export interface PurchaseOptions extends DriverOptions {
  readonly productId: string;
  readonly appAccountToken?: string;
  readonly environment?: AppleEnvironment;
}

/** One POST of a notification to the hub, as Apple's send-attempt ledger records it. */
export interface DeliveryRecord {
  readonly notificationUUID: string;
  /** 1 for the first send, 2… for Apple's retries and resends. */
  readonly attempt: number;
  /** Null when no HTTP answer came (refused connection, timeout). */
  readonly httpStatus: number | null;
  readonly at: number;
}

/** An API failure to inject: the next `times` matching requests answer `status` with `errorCode`. */
export interface ApiFault {
  readonly status: number;
  readonly errorCode: number;
  readonly times?: number;
  /** Only requests whose path contains this (default: every request). */
  readonly pathContains?: string;
  /** Answer this late (a slow App Store, for client timeouts). */
  readonly delayMs?: number;
}


export interface AppleEmulatorOptions {
  readonly bundleId: string;
  readonly appAppleId: number;
  readonly notificationUrl?: string;
  /** Apple's retry delays after a failed send (1, 12, 24, 48, 72 h), scaled down for tests. */
  readonly retryDelaysMs?: readonly number[];
  /** Epoch ms; `advance()` moves the emulator's clock on from it. */
  readonly now?: () => number;
  /** Longest JWT lifetime accepted (exp − iat); the library issues five minutes. */
  readonly maxTokenLifetimeMs?: number;
}
