import { AppStoreServerAPIClient, Environment, GetTransactionHistoryVersion, Order } from '@apple/app-store-server-library';
import type { JWSTransactionDecodedPayload } from '@apple/app-store-server-library';
import fetch, { Response } from 'node-fetch';
import { PermanentError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type {
  AppleApi,
  AppleEnvironment,
  AppleNotificationHistoryPage,
  AppleNotificationHistoryQuery,
  AppleSubscriptionStatus,
  AppleTransactionPage,
  AppleVerifier,
} from './apple.client';
import type { AppleApiKey } from './apple.client';
import { mapAppleError } from './apple.errors';

/**
 * The App Store Server API through Apple's own client (it signs the ES256 JWT of every request and
 * parses the answers). Its HTTP seam is overridden, as Apple's tests do, for a base URL of our
 * choosing (the emulator) and a timeout; it has no retries of its own, the job runner retries.
 * Every signed thing an answer carries goes through the verifier before it is handed out.
 */

const APPLE_HOSTS: Record<AppleEnvironment, string> = {
  Production: 'https://api.storekit.apple.com',
  Sandbox: 'https://api.storekit-sandbox.apple.com',
};

export interface LiveAppleApiSettings {
  readonly bundleId: string;
  readonly environments: readonly AppleEnvironment[];
  readonly apiKey: AppleApiKey;
  /** Null: Apple's hosts. */
  readonly apiBaseUrl: string | null;
  readonly timeoutMs: number;
}

/** Apple's client with its HTTP seam pointed at `baseUrl`; exported for calls the hub's AppleApi does not make. */
export class AppStoreClient extends AppStoreServerAPIClient {
  constructor(
    s: Pick<LiveAppleApiSettings, 'apiKey' | 'bundleId'>,
    environment: AppleEnvironment,
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {
    super(s.apiKey.privateKeyPem, s.apiKey.keyId, s.apiKey.issuerId, s.bundleId, environment === 'Production' ? Environment.PRODUCTION : Environment.SANDBOX);
  }

  protected override async makeFetchRequest(path: string, query: URLSearchParams, method: string, body: string | Buffer | undefined, headers: { [key: string]: string }): Promise<Response> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const res = await fetch(`${this.baseUrl}${path}?${query.toString()}`, { method, body, headers, signal: controller.signal });
      // The body is read under the same timeout: the library parses it after this returns.
      const bytes = await res.buffer();
      return new Response(bytes, { status: res.status, statusText: res.statusText, headers: res.headers });
    } finally {
      clearTimeout(timer);
    }
  }
}

export class LiveAppleApi implements AppleApi {
  private readonly clients = new Map<AppleEnvironment, AppStoreClient>();

  constructor(
    s: LiveAppleApiSettings,
    private readonly verifier: AppleVerifier,
    private readonly log: Logger,
  ) {
    for (const env of s.environments) this.clients.set(env, new AppStoreClient(s, env, s.apiBaseUrl ?? APPLE_HOSTS[env], s.timeoutMs));
  }

  async getTransactionInfo(environment: AppleEnvironment, transactionId: string): Promise<JWSTransactionDecodedPayload> {
    const res = await this.call(environment, 'transaction info', (c) => c.getTransactionInfo(transactionId));
    if (!res.signedTransactionInfo) throw mapAppleError(new Error('answer without signedTransactionInfo'), 'transaction info');
    return this.verifier.verifyTransaction(environment, res.signedTransactionInfo);
  }

  async getTransactionHistory(environment: AppleEnvironment, anyTransactionId: string, revision: string | null): Promise<AppleTransactionPage> {
    const res = await this.call(environment, 'transaction history', (c) =>
      c.getTransactionHistory(anyTransactionId, revision, { sort: Order.ASCENDING }, GetTransactionHistoryVersion.V2),
    );
    return this.page(environment, res.signedTransactions ?? [], res.revision ?? null, res.hasMore ?? false);
  }

  async getRefundHistory(environment: AppleEnvironment, anyTransactionId: string, revision: string | null): Promise<AppleTransactionPage> {
    const res = await this.call(environment, 'refund history', (c) => c.getRefundHistory(anyTransactionId, revision));
    return this.page(environment, res.signedTransactions ?? [], res.revision ?? null, res.hasMore ?? false);
  }

  async getAllSubscriptionStatuses(environment: AppleEnvironment, anyTransactionId: string): Promise<readonly AppleSubscriptionStatus[]> {
    const res = await this.call(environment, 'subscription statuses', (c) => c.getAllSubscriptionStatuses(anyTransactionId));
    const out: AppleSubscriptionStatus[] = [];
    for (const group of res.data ?? []) {
      for (const last of group.lastTransactions ?? []) {
        if (!last.signedTransactionInfo || last.originalTransactionId === undefined || last.status === undefined) continue;
        out.push({
          subscriptionGroupIdentifier: group.subscriptionGroupIdentifier ?? null,
          originalTransactionId: last.originalTransactionId,
          status: last.status,
          transaction: await this.verifier.verifyTransaction(environment, last.signedTransactionInfo),
          renewal: last.signedRenewalInfo ? await this.verifier.verifyRenewalInfo(environment, last.signedRenewalInfo) : null,
        });
      }
    }
    return out;
  }

  async getNotificationHistory(environment: AppleEnvironment, query: AppleNotificationHistoryQuery, paginationToken: string | null): Promise<AppleNotificationHistoryPage> {
    const res = await this.call(environment, 'notification history', (c) =>
      c.getNotificationHistory(paginationToken, {
        startDate: query.startDate,
        endDate: query.endDate,
        ...(query.onlyFailures ? { onlyFailures: true } : {}),
        ...(query.transactionId ? { transactionId: query.transactionId } : {}),
      }),
    );
    const items = [];
    for (const item of res.notificationHistory ?? []) {
      if (!item.signedPayload) continue;
      items.push({ signedPayload: item.signedPayload, notification: await this.verifier.verifyNotification(item.signedPayload), sendAttempts: item.sendAttempts ?? [] });
    }
    return { items, paginationToken: res.paginationToken ?? null, hasMore: res.hasMore ?? false };
  }

  private async page(environment: AppleEnvironment, signed: readonly string[], revision: string | null, hasMore: boolean): Promise<AppleTransactionPage> {
    const transactions = await Promise.all(signed.map((jws) => this.verifier.verifyTransaction(environment, jws)));
    return { transactions, revision, hasMore };
  }

  private async call<T>(environment: AppleEnvironment, what: string, fn: (client: AppStoreClient) => Promise<T>): Promise<T> {
    const client = this.clients.get(environment);
    if (!client) throw new PermanentError('APPLE_ENVIRONMENT_NOT_ACCEPTED', `App Store API ${what}: ${environment} is not in APPLE_ENVIRONMENTS`);
    try {
      return await fn(client);
    } catch (err) {
      const mapped = mapAppleError(err, what);
      this.log.debug({ environment, what, err: mapped }, 'app store api call failed');
      throw mapped;
    }
  }
}
