import { createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { EmulatorServer } from '../../emulator-server';
import type { AppleApiKey, AppleEnvironment } from '../apple.client';
import { handleApi, type ApiContext } from './apple.emulator-http';
import { APPLE_RETRY_DELAYS_MS, NotificationSender } from './apple.emulator-notify';
import { Scenarios, type ExpirySubtype } from './apple.emulator-scenarios';
import { EmulatorState } from './apple.emulator-state';
import type {
  AppleChain,
  AppleEmulatorOptions,
  ApiFault,
  DeliveryRecord,
  DriverOptions,
  EmulatedProduct,
  PurchaseOptions,
  ScenarioResult,
  SentNotification,
  SubscribeOptions,
} from './apple.emulator-types';
import { createApplePki, signJws, type ApplePki } from '../apple.pki';

export type * from './apple.emulator-types';

/**
 * A local App Store: the App Store Server API (ES256 JWT checked by code of its own), a test PKI made
 * at start whose chains the official verifier accepts, subscription state driven by scenario methods
 * (apple.emulator-scenarios.ts), and a notification sender with Apple's retries.
 */
export class AppleEmulator {
  readonly baseUrl: string;
  readonly rootCertificateDer: Buffer;
  readonly apiKey: AppleApiKey;
  private readonly state: EmulatorState;
  private readonly sender: NotificationSender;
  private readonly scenarios: Scenarios;
  private readonly api: ApiContext;
  private readonly pki: ApplePki;
  private notificationUrl: string | null;
  private offsetMs = 0;
  private stopped = false;

  private constructor(
    private readonly server: EmulatorServer,
    options: AppleEmulatorOptions,
  ) {
    this.baseUrl = server.baseUrl;
    const clock = options.now ?? Date.now;
    const now = (): number => clock() + this.offsetMs;
    this.pki = createApplePki(now(), `${this.baseUrl}/ocsp`);
    this.rootCertificateDer = this.pki.root.der;
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    this.apiKey = { issuerId: randomUUID(), keyId: randomUUID().replace(/-/g, '').slice(0, 10).toUpperCase(), privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    this.notificationUrl = options.notificationUrl ?? null;
    this.state = new EmulatorState(options.bundleId, options.appAppleId, () => this.pki.chains.trusted, now);
    this.sender = new NotificationSender(() => this.notificationUrl, options.retryDelaysMs ?? APPLE_RETRY_DELAYS_MS, now);
    this.scenarios = new Scenarios(this.state, this.sender, (payload) => signJws(payload, this.pki.chains.trusted));
    this.api = {
      state: this.state,
      sender: this.sender,
      key: { issuerId: this.apiKey.issuerId, keyId: this.apiKey.keyId, publicKey: createPublicKey(privateKey) },
      maxTokenLifetimeMs: options.maxTokenLifetimeMs ?? 60 * 60_000,
      faults: [],
      sendTest: () => this.sendTest().sent[0] ?? { notificationUUID: '' },
    };
  }

  static async start(options: AppleEmulatorOptions): Promise<AppleEmulator> {
    // The test PKI names the server's own origin, so the emulator is built once the port is known.
    let api: ApiContext | null = null;
    const server = await EmulatorServer.start(async (request) => {
      if (!api) throw new Error('apple emulator not ready');
      return handleApi(request, api);
    });
    const emulator = new AppleEmulator(server, options);
    api = emulator.api;
    return emulator;
  }

  /** False once `stop()` was called. */
  get running(): boolean {
    return !this.stopped;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.sender.stop();
    await this.server.stop();
  }

  setNotificationUrl(url: string | null): void {
    this.notificationUrl = url;
  }

  addProduct(p: EmulatedProduct): void {
    this.state.products.set(p.productId, p);
  }

  subscribe(o: SubscribeOptions): ScenarioResult {
    return this.scenarios.subscribe(o);
  }

  /** Non-renewing subscriptions, non-consumables and consumables: ONE_TIME_CHARGE. */
  purchase(o: PurchaseOptions): ScenarioResult {
    return this.scenarios.purchase(o);
  }

  /** The next period, starting when the current one ends (family members renew too). */
  renew(originalTransactionId: string, o?: DriverOptions): ScenarioResult {
    return this.scenarios.renew(originalTransactionId, o);
  }

  /** Billing fails at renewal: grace (status 4, access until the grace end) or billing retry (status 3). */
  failRenewal(originalTransactionId: string, o: { grace: boolean } & DriverOptions): ScenarioResult {
    return this.scenarios.failRenewal(originalTransactionId, o);
  }

  expireGrace(originalTransactionId: string, o?: DriverOptions): ScenarioResult {
    return this.scenarios.expireGrace(originalTransactionId, o);
  }

  /** Billing succeeds during retry or grace: DID_RENEW / BILLING_RECOVERY with a period starting now. */
  recover(originalTransactionId: string, o?: DriverOptions): ScenarioResult {
    return this.scenarios.recover(originalTransactionId, o);
  }

  expire(originalTransactionId: string, subtype?: ExpirySubtype, o?: DriverOptions): ScenarioResult {
    return this.scenarios.expire(originalTransactionId, subtype, o);
  }

  setAutoRenew(originalTransactionId: string, on: boolean, o?: DriverOptions): ScenarioResult {
    return this.scenarios.setAutoRenew(originalTransactionId, on, o);
  }

  /** Refunds one transaction; only the current period's refund revokes the subscription (and family members' access). */
  refund(transactionId: string, o?: DriverOptions): ScenarioResult {
    return this.scenarios.refund(transactionId, o);
  }

  reverseRefund(transactionId: string, o?: DriverOptions): ScenarioResult {
    return this.scenarios.reverseRefund(transactionId, o);
  }

  declineRefund(transactionId: string, o?: DriverOptions): ScenarioResult {
    return this.scenarios.declineRefund(transactionId, o);
  }

  /** Immediate, same group; during an intro offer the old transaction is left unmarked (two active products). */
  upgrade(originalTransactionId: string, newProductId: string, o?: DriverOptions): ScenarioResult {
    return this.scenarios.upgrade(originalTransactionId, newProductId, o);
  }

  /** Effective at the next renewal (DID_CHANGE_RENEWAL_PREF / DOWNGRADE): `renew()` then charges the new product. */
  downgrade(originalTransactionId: string, newProductId: string, o?: DriverOptions): ScenarioResult {
    return this.scenarios.downgrade(originalTransactionId, newProductId, o);
  }

  consumptionRequest(transactionId: string, o?: DriverOptions): ScenarioResult {
    return this.scenarios.consumptionRequest(transactionId, o);
  }

  /** A family member gets the subscription: their own original transaction, FAMILY_SHARED. */
  familyShare(originalTransactionId: string, o?: DriverOptions): ScenarioResult {
    return this.scenarios.familyShare(originalTransactionId, o);
  }

  revokeFamily(familyOriginalTransactionId: string, o?: DriverOptions): ScenarioResult {
    return this.scenarios.revokeFamily(familyOriginalTransactionId, o);
  }

  sendTest(o?: DriverOptions & { environment?: AppleEnvironment }): ScenarioResult {
    return this.scenarios.sendTest(o);
  }

  /** Moves the emulator's clock on (purchase and expiry dates, signedDate). */
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** Epoch ms on the emulator's clock. */
  now(): number {
    return this.state.now();
  }

  /** Every POST to the notification URL, in order. */
  deliveries(): readonly DeliveryRecord[] {
    return this.sender.deliveries();
  }

  /** Resolves when no send is in flight and no retry is waiting. */
  idle(): Promise<void> {
    return this.sender.idle();
  }

  /** The next `n` sends fail as if the hub had answered `status` (null: no answer), without reaching it. */
  failNextDeliveries(n: number, status: number | null = 500): void {
    this.sender.failNext(n, status);
  }

  failApi(fault: ApiFault): void {
    this.api.faults.push({ fault, left: fault.times ?? 1 });
  }

  /** Posts a notification already sent once more (Apple's duplicates). */
  resend(notificationUUID: string): Promise<DeliveryRecord> {
    return this.sender.resend(notificationUUID);
  }

  /** Sends notifications made with `deliver: false`, in the order given, with Apple's retries. */
  deliver(notifications: readonly SentNotification[]): void {
    this.scenarios.deliver(notifications);
  }

  /** Any payload signed with one of the emulator's chains (the contract suite's bad ones included). */
  signNotification(payload: object, chain: AppleChain = 'trusted'): string {
    return signJws(payload, this.pki.chains[chain]);
  }

  /** Until when the `expiredLeaf` chain is valid: sign with a later signedDate to have it refused. */
  get expiredLeafNotAfter(): number {
    return this.pki.expiredLeafNotAfter;
  }

  /** A transaction as the App Store would sign it now (for tests that forge or tamper). */
  signedTransaction(transactionId: string): string {
    return this.state.signTransaction(this.state.transaction(transactionId));
  }
}
