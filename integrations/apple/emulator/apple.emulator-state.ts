import type { AppleEnvironment } from '../apple.client';
import type { AppleProductType, EmulatedProduct } from './apple.emulator-types';
import { signJws, type SigningChain } from '../apple.pki';

/**
 * What the emulated App Store knows: products, transactions and subscriptions, and the signed forms
 * the API and the notifications hand out. Scenario drivers (apple.emulator-scenarios.ts) change it.
 */

const MONTH_MS = 30 * 86_400_000;
/** Apple's history pages hold at most 20 transactions. */
export const HISTORY_PAGE_SIZE = 20;

export interface EmulatedTransaction {
  transactionId: string;
  originalTransactionId: string;
  webOrderLineItemId?: string;
  productId: string;
  subscriptionGroupIdentifier?: string;
  purchaseDate: number;
  originalPurchaseDate: number;
  expiresDate?: number;
  type: AppleProductType;
  appAccountToken?: string;
  inAppOwnershipType: 'PURCHASED' | 'FAMILY_SHARED';
  revocationDate?: number;
  revocationReason?: 0 | 1;
  revocationType?: 'REFUND_FULL' | 'REFUND_PRORATED' | 'FAMILY_REVOKE';
  revocationPercentage?: number;
  isUpgraded?: boolean;
  offerType?: 1;
  offerDiscountType?: 'FREE_TRIAL' | 'PAY_AS_YOU_GO';
  environment: AppleEnvironment;
  transactionReason: 'PURCHASE' | 'RENEWAL';
  price: number;
  /** Whose history it is in (the App Store account); never signed. */
  customer: string;
  /** Change counter when it was last added or changed; revisions are positions in it. Never signed. */
  changed: number;
  /** Change counter of its refund, when refunded. Never signed. */
  refunded?: number;
}

export interface EmulatedSubscription {
  originalTransactionId: string;
  productId: string;
  autoRenewProductId: string;
  autoRenewStatus: 0 | 1;
  groupId: string;
  environment: AppleEnvironment;
  appAccountToken?: string;
  customer: string;
  /** Apple's status code (1 active … 5 revoked). */
  status: number;
  isInBillingRetryPeriod: boolean;
  gracePeriodExpiresDate?: number;
  expirationIntent?: number;
  latestTransactionId: string;
  /** Family members' original transactions, for a purchaser who shares. */
  family: string[];
  /** The purchaser's original transaction, for a family member. */
  sharedFrom?: string;
}

const INTERNAL_FIELDS = new Set(['customer', 'changed', 'refunded']);

export class EmulatorState {
  readonly products = new Map<string, EmulatedProduct>();
  readonly transactions = new Map<string, EmulatedTransaction>();
  readonly subscriptions = new Map<string, EmulatedSubscription>();
  private nextId = 1;
  private changes = 0;
  private lastStamp = 0;

  constructor(
    readonly bundleId: string,
    readonly appAppleId: number,
    private readonly chain: () => SigningChain,
    readonly now: () => number,
  ) {}

  /** Apple's transaction ids: digits, unique across both environments. */
  newId(): string {
    return String(2_000_000_000_000_000 + this.nextId++ * 7);
  }

  tick(): number {
    return ++this.changes;
  }

  /** A signedDate: the clock, but strictly after the previous one, so the order of events survives a clock that stands still. */
  stamp(): number {
    this.lastStamp = Math.max(this.now(), this.lastStamp + 1);
    return this.lastStamp;
  }

  product(productId: string): EmulatedProduct {
    const p = this.products.get(productId);
    if (!p) throw new Error(`emulator: unknown product ${productId}`);
    return p;
  }

  periodOf(productId: string): number {
    return this.product(productId).periodMs ?? MONTH_MS;
  }

  /** A product's subscription group (one of its own when none was given). */
  groupOf(productId: string): string {
    return this.product(productId).groupId ?? `group-${productId}`;
  }

  /** A new original transaction: a first purchase, or a family member's share; its own App Store account unless a token names one. */
  originalTransaction(o: {
    productId: string;
    environment: AppleEnvironment;
    appAccountToken?: string;
    ownership?: 'PURCHASED' | 'FAMILY_SHARED';
    price?: number;
    expiresDate?: number;
    offer?: 'intro' | 'trial';
  }): EmulatedTransaction {
    const product = this.product(o.productId);
    const id = this.newId();
    const now = this.now();
    const renewable = product.type === 'Auto-Renewable Subscription';
    return this.addTransaction({
      transactionId: id,
      originalTransactionId: id,
      ...(renewable ? { webOrderLineItemId: this.newId(), subscriptionGroupIdentifier: this.groupOf(o.productId), expiresDate: o.expiresDate ?? now + this.periodOf(o.productId) } : {}),
      productId: o.productId,
      purchaseDate: now,
      originalPurchaseDate: now,
      type: product.type,
      ...(o.appAccountToken ? { appAccountToken: o.appAccountToken } : {}),
      inAppOwnershipType: o.ownership ?? 'PURCHASED',
      ...(o.offer ? { offerType: 1 as const, offerDiscountType: o.offer === 'trial' ? ('FREE_TRIAL' as const) : ('PAY_AS_YOU_GO' as const) } : {}),
      environment: o.environment,
      transactionReason: 'PURCHASE',
      price: o.price ?? (o.offer === 'trial' ? 0 : (product.priceMilliunits ?? 0)),
      customer: o.appAccountToken ?? `account-${id}`,
    });
  }

  transaction(transactionId: string): EmulatedTransaction {
    const t = this.transactions.get(transactionId);
    if (!t) throw new Error(`emulator: unknown transaction ${transactionId}`);
    return t;
  }

  subscription(originalTransactionId: string): EmulatedSubscription {
    const s = this.subscriptions.get(originalTransactionId);
    if (!s) throw new Error(`emulator: unknown subscription ${originalTransactionId}`);
    return s;
  }

  latest(sub: EmulatedSubscription): EmulatedTransaction {
    return this.transaction(sub.latestTransactionId);
  }

  addTransaction(t: Omit<EmulatedTransaction, 'changed'>): EmulatedTransaction {
    const full = { ...t, changed: this.tick() };
    this.transactions.set(full.transactionId, full);
    return full;
  }

  /** A later change shows up again in a history fetched with an older revision. */
  touch(t: EmulatedTransaction): void {
    t.changed = this.tick();
  }

  /** The customer a transaction id (any of theirs, original or not) belongs to; null when unknown. */
  customerOf(anyTransactionId: string): string | null {
    return this.transactions.get(anyTransactionId)?.customer ?? null;
  }

  signTransaction(t: EmulatedTransaction): string {
    const body: Record<string, unknown> = { bundleId: this.bundleId, quantity: 1, storefront: 'CHN', storefrontId: '143465', currency: 'CNY', signedDate: this.stamp() };
    for (const [k, v] of Object.entries(t)) if (!INTERNAL_FIELDS.has(k) && v !== undefined) body[k] = v;
    return signJws(body, this.chain());
  }

  signRenewal(sub: EmulatedSubscription): string {
    const latest = this.latest(sub);
    const first = this.transaction(sub.originalTransactionId);
    return signJws(
      {
        originalTransactionId: sub.originalTransactionId,
        productId: sub.productId,
        autoRenewProductId: sub.autoRenewProductId,
        autoRenewStatus: sub.autoRenewStatus,
        isInBillingRetryPeriod: sub.isInBillingRetryPeriod,
        ...(sub.gracePeriodExpiresDate !== undefined ? { gracePeriodExpiresDate: sub.gracePeriodExpiresDate } : {}),
        ...(sub.expirationIntent !== undefined ? { expirationIntent: sub.expirationIntent } : {}),
        ...(sub.appAccountToken ? { appAccountToken: sub.appAccountToken } : {}),
        ...(latest.expiresDate !== undefined ? { renewalDate: latest.expiresDate } : {}),
        recentSubscriptionStartDate: first.purchaseDate,
        environment: sub.environment,
        currency: 'CNY',
        renewalPrice: this.product(sub.autoRenewProductId).priceMilliunits ?? 0,
        signedDate: this.stamp(),
      },
      this.chain(),
    );
  }

  /** Get Transaction History v2: the customer's transactions changed after `revision`, oldest change first, 20 a page. */
  history(anyTransactionId: string, revision: string | null, filter: (t: EmulatedTransaction) => boolean, key: (t: EmulatedTransaction) => number | undefined): HistoryPage | null {
    const customer = this.customerOf(anyTransactionId);
    if (customer === null) return null;
    const after = revision === null ? 0 : parseRevision(revision);
    if (after === null) return { invalidRevision: true, signed: [], revision: revision ?? '', hasMore: false, environment: 'Production' };
    const all = [...this.transactions.values()]
      .filter((t) => t.customer === customer && filter(t) && (key(t) ?? 0) > after)
      .sort((a, b) => (key(a) ?? 0) - (key(b) ?? 0));
    const page = all.slice(0, HISTORY_PAGE_SIZE);
    const last = page.at(-1);
    return {
      invalidRevision: false,
      signed: page.map((t) => this.signTransaction(t)),
      revision: formatRevision(last ? (key(last) ?? after) : after),
      hasMore: all.length > page.length,
      environment: this.transaction(anyTransactionId).environment,
    };
  }

  /** Get All Subscription Statuses: the customer's subscriptions, grouped. */
  statuses(anyTransactionId: string, only: readonly number[]): { groupId: string; items: { status: number; originalTransactionId: string; signedTransactionInfo: string; signedRenewalInfo: string }[] }[] | null {
    const customer = this.customerOf(anyTransactionId);
    if (customer === null) return null;
    const groups = new Map<string, { status: number; originalTransactionId: string; signedTransactionInfo: string; signedRenewalInfo: string }[]>();
    for (const sub of this.subscriptions.values()) {
      if (sub.customer !== customer || (only.length > 0 && !only.includes(sub.status))) continue;
      const items = groups.get(sub.groupId) ?? [];
      items.push({ status: sub.status, originalTransactionId: sub.originalTransactionId, signedTransactionInfo: this.signTransaction(this.latest(sub)), signedRenewalInfo: this.signRenewal(sub) });
      groups.set(sub.groupId, items);
    }
    return [...groups].map(([groupId, items]) => ({ groupId, items }));
  }
}

export interface HistoryPage {
  readonly invalidRevision: boolean;
  readonly signed: string[];
  readonly revision: string;
  readonly hasMore: boolean;
  readonly environment: AppleEnvironment;
}

/** Opaque to clients, as Apple's are. */
function formatRevision(position: number): string {
  return Buffer.from(`rev:${position}`).toString('base64url');
}

function parseRevision(revision: string): number | null {
  const match = /^rev:(\d+)$/.exec(Buffer.from(revision, 'base64url').toString());
  return match?.[1] ? Number(match[1]) : null;
}
