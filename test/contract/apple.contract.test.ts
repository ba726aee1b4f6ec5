import { APIException, VerificationException, VerificationStatus } from '@apple/app-store-server-library';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppleIntegration } from '../../integrations/apple/apple.client';
import type { AppleEmulator } from '../../integrations/apple/emulator/apple.emulator';
import { mapAppleError } from '../../integrations/apple/apple.errors';
import { openApple } from '../../integrations/apple';
import { AppStoreClient } from '../../integrations/apple/apple.live';
import { verificationError } from '../../integrations/apple/apple.verifier';
import { ConfigError, PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';
import { createLogger } from '../../lib/logger';
import { APPLE_TEST_APP_ID, APPLE_TEST_BUNDLE_ID, appleIntegrationFor, startAppleEmulator } from '../support/apple';
import { testConfig } from '../support/env';

/** Apple's verifier and API client against the App Store emulator: real HTTP, real ES256 on both sides. */

const MONTHLY = 'vip.monthly';
const YEARLY = 'vip.yearly';
const LIFETIME = 'vip.lifetime';
let emu: AppleEmulator;
let apple: AppleIntegration;
let receiver: Server;
const received: string[] = [];
const answers: number[] = [];
let account = 0;
const token = (): string => `00000000-0000-4000-8000-${String((account += 1)).padStart(12, '0')}`;

/** A notification payload as Apple's, around an emulator-signed transaction. */
function payload(o: { environment?: string; bundleId?: string; appAppleId?: number; signedDate?: number; type?: string; signedTransactionInfo?: string } = {}): object {
  return {
    notificationType: o.type ?? 'SUBSCRIBED',
    subtype: 'INITIAL_BUY',
    notificationUUID: `c0ffee00-0000-4000-8000-${String((account += 1)).padStart(12, '0')}`,
    version: '2.0',
    signedDate: o.signedDate ?? emu.now(),
    data: {
      // Apple leaves appAppleId out of Sandbox notifications.
      ...((o.environment ?? 'Production') === 'Production' ? { appAppleId: o.appAppleId ?? APPLE_TEST_APP_ID } : {}),
      bundleId: o.bundleId ?? APPLE_TEST_BUNDLE_ID,
      environment: o.environment ?? 'Production',
      ...(o.signedTransactionInfo ? { signedTransactionInfo: o.signedTransactionInfo } : {}),
      status: 1,
    },
  };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => new Error('accepted'),
    (e: unknown) => e,
  );
  if (!(err instanceof PermanentError)) throw err;
  return err.code;
}

describe('App Store emulator contract', () => {
  beforeAll(async () => {
    emu = await startAppleEmulator();
    for (const productId of [MONTHLY, YEARLY]) {
      emu.addProduct({ productId, type: 'Auto-Renewable Subscription', groupId: 'vip', periodMs: productId === MONTHLY ? 30 * 86_400_000 : 365 * 86_400_000, priceMilliunits: 30_000, gracePeriodMs: 6 * 86_400_000 });
    }
    emu.addProduct({ productId: LIFETIME, type: 'Non-Consumable', priceMilliunits: 198_000 });
    apple = appleIntegrationFor(emu);
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(Buffer.concat(chunks).toString());
        res.writeHead(answers.shift() ?? 200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    emu.setNotificationUrl(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/apple`);
  });
  afterAll(async () => {
    await emu.stop();
    receiver.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });
  afterEach(async () => {
    await emu.idle();
    answers.length = 0;
  });

  describe('notification verification (reference §8 item 14)', () => {
    it('accepts the emulator chain and decodes the notification, its transaction and its renewal info', async () => {
      const appAccountToken = token();
      const { sent, originalTransactionId } = emu.subscribe({ productId: MONTHLY, appAccountToken, deliver: false });
      const verified = await apple.verifier.verifyNotification(sent[0]?.signedPayload ?? '');
      expect(verified.environment).toBe('Production');
      expect(verified.payload).toMatchObject({ notificationType: 'SUBSCRIBED', subtype: 'INITIAL_BUY', notificationUUID: sent[0]?.notificationUUID });
      expect(verified.transaction).toMatchObject({ originalTransactionId, productId: MONTHLY, appAccountToken, inAppOwnershipType: 'PURCHASED', bundleId: APPLE_TEST_BUNDLE_ID });
      expect(verified.renewal).toMatchObject({ originalTransactionId, autoRenewStatus: 1, autoRenewProductId: MONTHLY });
    });

    it.each([
      ['untrustedRoot', 'APPLE_VERIFICATION_VERIFICATION_FAILURE'],
      ['missingLeafOid', 'APPLE_VERIFICATION_VERIFICATION_FAILURE'],
      ['missingIntermediateOid', 'APPLE_VERIFICATION_VERIFICATION_FAILURE'],
      ['twoCertificates', 'APPLE_VERIFICATION_INVALID_CERTIFICATE'],
    ] as const)('refuses a notification signed with the %s chain', async (chain, code) => {
      expect(await refusal(apple.verifier.verifyNotification(emu.signNotification(payload(), chain)))).toBe(code);
    });

    it('refuses an expired leaf by the payload signedDate, and accepts the same leaf before it expired', async () => {
      const late = emu.signNotification(payload({ signedDate: emu.expiredLeafNotAfter + 3_600_000 }), 'expiredLeaf');
      expect(await refusal(apple.verifier.verifyNotification(late))).toBe('APPLE_VERIFICATION_INVALID_CERTIFICATE');
      const early = emu.signNotification(payload({ signedDate: emu.expiredLeafNotAfter - 3_600_000 }), 'expiredLeaf');
      await expect(apple.verifier.verifyNotification(early)).resolves.toMatchObject({ environment: 'Production' });
    });

    it('refuses a tampered payload and a notification whose inner transaction is tampered', async () => {
      const [head, body, sig] = emu.signNotification(payload()).split('.');
      const forged = JSON.stringify({ ...(JSON.parse(Buffer.from(body ?? '', 'base64url').toString()) as object), notificationType: 'REFUND_REVERSED' });
      expect(await refusal(apple.verifier.verifyNotification(`${head}.${Buffer.from(forged).toString('base64url')}.${sig}`))).toBe('APPLE_VERIFICATION_VERIFICATION_FAILURE');

      const { transactionId } = emu.purchase({ productId: LIFETIME, deliver: false });
      const [th, , ts] = emu.signedTransaction(transactionId).split('.');
      const otherTx = emu.signedTransaction(emu.purchase({ productId: LIFETIME, deliver: false }).transactionId).split('.')[1];
      const outer = emu.signNotification(payload({ signedTransactionInfo: `${th}.${otherTx}.${ts}` }));
      expect(await refusal(apple.verifier.verifyNotification(outer))).toBe('APPLE_VERIFICATION_VERIFICATION_FAILURE');
    });

    it('refuses another bundle, and Production from another app Apple id', async () => {
      expect(await refusal(apple.verifier.verifyNotification(emu.signNotification(payload({ bundleId: 'com.example.other' }))))).toBe('APPLE_VERIFICATION_INVALID_APP_IDENTIFIER');
      const otherApp = appleIntegrationFor(emu, { appAppleId: APPLE_TEST_APP_ID + 1 });
      expect(await refusal(otherApp.verifier.verifyNotification(emu.signNotification(payload())))).toBe('APPLE_VERIFICATION_INVALID_APP_IDENTIFIER');
      // Sandbox carries no app Apple id check: the same payload in Sandbox passes the other app's verifier.
      await expect(otherApp.verifier.verifyNotification(emu.signNotification(payload({ environment: 'Sandbox' })))).resolves.toMatchObject({ environment: 'Sandbox' });
    });

    it('accepts a Sandbox notification where Sandbox is configured and refuses it where only Production is', async () => {
      const { sent } = emu.subscribe({ productId: MONTHLY, environment: 'Sandbox', appAccountToken: token(), deliver: false });
      const signed = sent[0]?.signedPayload ?? '';
      await expect(apple.verifier.verifyNotification(signed)).resolves.toMatchObject({ environment: 'Sandbox', transaction: { environment: 'Sandbox' } });
      const productionOnly = appleIntegrationFor(emu, { environments: ['Production'] });
      expect(await refusal(productionOnly.verifier.verifyNotification(signed))).toBe('APPLE_VERIFICATION_INVALID_ENVIRONMENT');
      const sandboxOnly = appleIntegrationFor(emu, { environments: ['Sandbox'] });
      expect(await refusal(sandboxOnly.verifier.verifyNotification(emu.signNotification(payload())))).toBe('APPLE_VERIFICATION_INVALID_ENVIRONMENT');
    });

    it('passes an unknown future notification type through, verified (item 16)', async () => {
      const verified = await apple.verifier.verifyNotification(emu.signNotification(payload({ type: 'SOMETHING_NEW_IN_2030' })));
      expect(verified.payload.notificationType).toBe('SOMETHING_NEW_IN_2030');
    });

    it('retries when online checks cannot reach the revocation responder, instead of dropping the notification (item 15)', async () => {
      const online = appleIntegrationFor(emu, { onlineChecks: true });
      const err = await online.verifier.verifyNotification(emu.signNotification(payload(), 'ocspUnavailable')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RetryableError);
      // Offline, the same chain is good: the failure was the responder, not the signature.
      await expect(apple.verifier.verifyNotification(emu.signNotification(payload(), 'ocspUnavailable'))).resolves.toMatchObject({ environment: 'Production' });
    });

    it('turns an incomplete revocation check into a retry and every other verdict into a refusal (item 15)', () => {
      expect(verificationError(new VerificationException(VerificationStatus.RETRYABLE_VERIFICATION_FAILURE), 'notification')).toBeInstanceOf(RetryableError);
      const final = verificationError(new VerificationException(VerificationStatus.INVALID_CHAIN_LENGTH), 'notification');
      expect(final).toBeInstanceOf(PermanentError);
      expect(final instanceof PermanentError && final.code).toBe('APPLE_VERIFICATION_INVALID_CHAIN_LENGTH');
    });
  });

  /** A hand-made App Store Connect token, to probe the emulator's own JWT checks. */
  function jwt(claims: Record<string, unknown>, o: { kid?: string; key?: string } = {}): string {
    const enc = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const input = `${enc({ alg: 'ES256', kid: o.kid ?? emu.apiKey.keyId, typ: 'JWT' })}.${enc(claims)}`;
    return `${input}.${sign('sha256', Buffer.from(input), { key: o.key ?? emu.apiKey.privateKeyPem, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  }

  describe('App Store Server API (items 17, 18)', () => {
    it('accepts the library JWT and refuses tokens that are expired, for another audience, bundle, key id or key (401)', async () => {
      const { transactionId } = emu.purchase({ productId: LIFETIME, deliver: false });
      await expect(apple.api.getTransactionInfo('Production', transactionId)).resolves.toMatchObject({ transactionId, productId: LIFETIME, type: 'Non-Consumable' });
      const iat = Math.floor(Date.now() / 1000);
      const good = { iss: emu.apiKey.issuerId, aud: 'appstoreconnect-v1', bid: APPLE_TEST_BUNDLE_ID, iat, exp: iat + 300 };
      const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const tokens = [jwt(good), jwt({ ...good, iat: iat - 600, exp: iat - 300 }), jwt({ ...good, aud: 'other' }), jwt({ ...good, bid: 'com.example.other' }), jwt(good, { kid: 'ZZZZZZZZZZ' }), jwt(good, { key: stranger })];
      const statuses = await Promise.all(tokens.map(async (t) => (await fetch(`${emu.baseUrl}/inApps/v1/transactions/${transactionId}?`, { headers: { Authorization: `Bearer ${t}` } })).status));
      expect(statuses).toEqual([200, 401, 401, 401, 401, 401]);

      const wrongKey = appleIntegrationFor(emu, { apiKey: { ...emu.apiKey, privateKeyPem: stranger } });
      expect(await refusal(wrongKey.api.getTransactionInfo('Production', transactionId))).toBe('APPLE_HTTP_401');
    });

    it('maps 4040010 to permanent, the _RETRYABLE codes and 5000001 to retryable, 429 to rate-limited', async () => {
      expect(await refusal(apple.api.getTransactionInfo('Production', '1999999999999999'))).toBe('APPLE_TRANSACTION_ID_NOT_FOUND');
      const { transactionId } = emu.purchase({ productId: LIFETIME, deliver: false });
      const outcome = async (status: number, errorCode: number): Promise<unknown> => {
        emu.failApi({ status, errorCode, pathContains: transactionId });
        return apple.api.getTransactionInfo('Production', transactionId).catch((e: unknown) => e);
      };
      expect(await outcome(404, 4040006)).toBeInstanceOf(RetryableError);
      expect(await outcome(404, 4040002)).toBeInstanceOf(RetryableError);
      expect(await outcome(500, 5000001)).toBeInstanceOf(RetryableError);
      expect(await outcome(500, 5000000)).toBeInstanceOf(RetryableError);
      expect(await outcome(429, 4290000)).toBeInstanceOf(RateLimitedError);
      const notFound = await outcome(404, 4040005);
      expect(notFound instanceof PermanentError && notFound.code).toBe('APPLE_ORIGINAL_TRANSACTION_ID_NOT_FOUND');
      // The faults were used up: the same call succeeds.
      await expect(apple.api.getTransactionInfo('Production', transactionId)).resolves.toMatchObject({ transactionId });
      // A slow answer: the client's own timeout ends the call, which is worth another try.
      emu.failApi({ status: 500, errorCode: 5000000, pathContains: transactionId, delayMs: 1_500 });
      const slow = await appleIntegrationFor(emu, { timeoutMs: 300 }).api.getTransactionInfo('Production', transactionId).catch((e: unknown) => e);
      expect(slow).toBeInstanceOf(RetryableError);
      expect(String(slow)).toMatch(/abort/i);
      expect(mapAppleError(new APIException(401), 'x')).toBeInstanceOf(PermanentError);
    });

    it('pages the history 20 at a time and resumes from the kept revision with only what changed', async () => {
      const { originalTransactionId } = emu.subscribe({ productId: MONTHLY, appAccountToken: token(), deliver: false });
      const ids = [originalTransactionId];
      for (let i = 0; i < 24; i += 1) ids.push(emu.renew(originalTransactionId, { deliver: false }).transactionId);
      const first = await apple.api.getTransactionHistory('Production', originalTransactionId, null);
      expect(first.transactions).toHaveLength(20);
      expect(first.hasMore).toBe(true);
      const second = await apple.api.getTransactionHistory('Production', ids[3] ?? '', first.revision);
      expect(second.hasMore).toBe(false);
      expect([...first.transactions, ...second.transactions].map((t) => t.transactionId)).toEqual(ids);

      const renewed = emu.renew(originalTransactionId, { deliver: false }).transactionId;
      emu.refund(ids[5] ?? '', { deliver: false });
      const resumed = await apple.api.getTransactionHistory('Production', originalTransactionId, second.revision);
      expect(resumed.transactions.map((t) => [t.transactionId, t.revocationDate !== undefined])).toEqual([
        [renewed, false],
        [ids[5], true],
      ]);
      const unchanged = await apple.api.getTransactionHistory('Production', originalTransactionId, resumed.revision);
      expect(unchanged.transactions).toHaveLength(0);
      expect(await refusal(apple.api.getTransactionHistory('Production', originalTransactionId, 'not-a-revision'))).toBe('APPLE_INVALID_REQUEST_REVISION');
    });

    it('reports every subscription of the account with its status and renewal info', async () => {
      const appAccountToken = token();
      emu.addProduct({ productId: 'news.monthly', type: 'Auto-Renewable Subscription', groupId: 'news' });
      const vip = emu.subscribe({ productId: MONTHLY, appAccountToken, deliver: false });
      const news = emu.subscribe({ productId: 'news.monthly', appAccountToken, deliver: false });
      emu.failRenewal(vip.originalTransactionId, { grace: true, deliver: false });
      emu.failRenewal(news.originalTransactionId, { grace: false, deliver: false });
      const statuses = await apple.api.getAllSubscriptionStatuses('Production', news.transactionId);
      const byId = new Map(statuses.map((s) => [s.originalTransactionId, s]));
      expect(byId.get(vip.originalTransactionId)).toMatchObject({ subscriptionGroupIdentifier: 'vip', status: 4, renewal: { isInBillingRetryPeriod: true, expirationIntent: 2 } });
      const grace = byId.get(vip.originalTransactionId);
      expect(grace?.renewal?.gracePeriodExpiresDate).toBe((grace?.transaction.expiresDate ?? 0) + 6 * 86_400_000);
      expect(byId.get(news.originalTransactionId)).toMatchObject({ subscriptionGroupIdentifier: 'news', status: 3 });
      expect(byId.get(news.originalTransactionId)?.renewal?.gracePeriodExpiresDate).toBeUndefined();
    });

    it('lists refunds in the refund history, and a reversed refund no longer', async () => {
      const { originalTransactionId } = emu.subscribe({ productId: MONTHLY, appAccountToken: token(), deliver: false });
      const second = emu.renew(originalTransactionId, { deliver: false }).transactionId;
      const bought = emu.purchase({ productId: LIFETIME, appAccountToken: `${token()}`, deliver: false });
      emu.refund(originalTransactionId, { deliver: false });
      emu.refund(second, { deliver: false });
      emu.refund(bought.transactionId, { deliver: false });
      const page = await apple.api.getRefundHistory('Production', second, null);
      expect(page.transactions.map((t) => [t.transactionId, t.revocationReason, t.revocationType])).toEqual([
        [originalTransactionId, 0, 'REFUND_FULL'],
        [second, 0, 'REFUND_FULL'],
      ]);
      emu.reverseRefund(second, { deliver: false });
      expect((await apple.api.getRefundHistory('Production', second, null)).transactions.map((t) => t.transactionId)).toEqual([originalTransactionId]);
    });

    it('refuses family-shared transactions where Apple does (4000185) and revokes them with reason 0', async () => {
      const owner = emu.subscribe({ productId: MONTHLY, appAccountToken: token(), deliver: false });
      const member = emu.familyShare(owner.originalTransactionId, { deliver: false });
      const tx = await apple.api.getTransactionInfo('Production', member.transactionId);
      expect(tx).toMatchObject({ inAppOwnershipType: 'FAMILY_SHARED', originalTransactionId: member.originalTransactionId });
      const client = new AppStoreClient({ apiKey: emu.apiKey, bundleId: APPLE_TEST_BUNDLE_ID }, 'Production', emu.baseUrl, 5_000);
      const family = await client.extendSubscriptionRenewalDate(member.originalTransactionId, { extendByDays: 1, extendReasonCode: 1, requestIdentifier: 'r1' }).catch((e: unknown) => mapAppleError(e, 'extend'));
      expect(family instanceof PermanentError && family.code).toBe('APPLE_FAMILY_TRANSACTION_NOT_SUPPORTED_ERROR');
      await expect(client.extendSubscriptionRenewalDate(owner.originalTransactionId, { extendByDays: 1, extendReasonCode: 1, requestIdentifier: 'r2' })).resolves.toMatchObject({ success: true });

      const { sent } = emu.revokeFamily(member.originalTransactionId, { deliver: false });
      const revoked = await apple.verifier.verifyNotification(sent[0]?.signedPayload ?? '');
      expect(revoked.payload.notificationType).toBe('REVOKE');
      expect(revoked.transaction).toMatchObject({ inAppOwnershipType: 'FAMILY_SHARED', revocationReason: 0, revocationType: 'FAMILY_REVOKE' });
    });
  });

  describe('notification sending (item 22)', () => {
    it('retries a failed send with the same notificationUUID and payload until the hub answers 2xx', async () => {
      answers.push(500, 503, 204);
      const before = received.length;
      const { sent } = emu.subscribe({ productId: MONTHLY, appAccountToken: token() });
      await emu.idle();
      const uuid = sent[0]?.notificationUUID;
      expect(emu.deliveries().filter((d) => d.notificationUUID === uuid).map((d) => [d.attempt, d.httpStatus])).toEqual([
        [1, 500],
        [2, 503],
        [3, 204],
      ]);
      expect(new Set(received.slice(before))).toEqual(new Set([JSON.stringify({ signedPayload: sent[0]?.signedPayload })]));
    });

    it('gives up after Apple five retries in Production, sends Sandbox once, and lists the failure with its attempts', async () => {
      emu.failNextDeliveries(7, 500);
      const subscribed = emu.subscribe({ productId: MONTHLY, appAccountToken: token() });
      const production = subscribed.sent[0];
      await emu.idle();
      const sandbox = emu.subscribe({ productId: MONTHLY, appAccountToken: token(), environment: 'Sandbox' }).sent[0];
      await emu.idle();
      const attempts = (uuid: string | undefined): number => emu.deliveries().filter((d) => d.notificationUUID === uuid).length;
      expect([attempts(production?.notificationUUID), attempts(sandbox?.notificationUUID)]).toEqual([6, 1]);

      const window = { startDate: emu.now() - 60_000, endDate: emu.now() + 60_000, transactionId: subscribed.originalTransactionId };
      const failures = await apple.api.getNotificationHistory('Production', { ...window, onlyFailures: true }, null);
      const failed = failures.items.find((i) => i.notification.payload.notificationUUID === production?.notificationUUID);
      expect(failed?.sendAttempts.map((a) => a.sendAttemptResult)).toEqual(Array(6).fill('UNSUCCESSFUL_HTTP_RESPONSE_CODE'));
      expect(failures.items.every((i) => i.sendAttempts.every((a) => a.sendAttemptResult !== 'SUCCESS'))).toBe(true);
    });

    it('pages the notification history with a pagination token and filters by transaction', async () => {
      const { originalTransactionId } = emu.subscribe({ productId: MONTHLY, appAccountToken: token() });
      for (let i = 0; i < 22; i += 1) emu.renew(originalTransactionId);
      await emu.idle();
      const query = { startDate: emu.now() - 60_000, endDate: emu.now() + 60_000, transactionId: originalTransactionId };
      const first = await apple.api.getNotificationHistory('Production', query, null);
      expect([first.items.length, first.hasMore]).toEqual([20, true]);
      const second = await apple.api.getNotificationHistory('Production', query, first.paginationToken);
      expect([second.items.length, second.hasMore, second.paginationToken]).toEqual([3, false, null]);
      const types = [...first.items, ...second.items].map((i) => i.notification.payload.notificationType);
      expect(types).toEqual(['SUBSCRIBED', ...Array(22).fill('DID_RENEW')]);
      expect([...first.items, ...second.items].every((i) => i.sendAttempts.at(-1)?.sendAttemptResult === 'SUCCESS')).toBe(true);
    });

    it('resends a notification as a duplicate and delivers held ones in the order asked', async () => {
      const before = received.length;
      const { originalTransactionId, sent } = emu.subscribe({ productId: MONTHLY, appAccountToken: token(), deliver: false });
      const renewal = emu.renew(originalTransactionId, { deliver: false }).sent;
      emu.deliver([...renewal, ...sent]);
      await emu.idle();
      const dup = await emu.resend(sent[0]?.notificationUUID ?? '');
      expect(dup).toMatchObject({ attempt: 2, httpStatus: 200 });
      const uuids = received.slice(before).map((b) => (JSON.parse(Buffer.from((JSON.parse(b) as { signedPayload: string }).signedPayload.split('.')[1] ?? '', 'base64url').toString()) as { notificationUUID: string }).notificationUUID);
      expect(uuids).toEqual([renewal[0]?.notificationUUID, sent[0]?.notificationUUID, sent[0]?.notificationUUID]);
    });
  });

  describe('opened from configuration', () => {
    const log = createLogger({ level: 'silent' });

    it('in emulator mode starts an emulator that posts to the hub webhook and trusts its root', async () => {
      const port = (receiver.address() as AddressInfo).port;
      const opened = await openApple(testConfig().apple, port, log);
      try {
        expect(opened.emulators.apple?.running).toBe(true);
        opened.emulators.apple?.addProduct({ productId: MONTHLY, type: 'Auto-Renewable Subscription' });
        const before = received.length;
        const { sent, originalTransactionId } = opened.emulators.apple?.subscribe({ productId: MONTHLY, appAccountToken: token() }) ?? { sent: [], originalTransactionId: '' };
        await opened.emulators.apple?.idle();
        expect(received.slice(before)).toEqual([JSON.stringify({ signedPayload: sent[0]?.signedPayload })]);
        await expect(opened.client.verifier.verifyNotification(sent[0]?.signedPayload ?? '')).resolves.toMatchObject({ environment: 'Production' });
        await expect(opened.client.api.getTransactionInfo('Production', originalTransactionId)).resolves.toMatchObject({ originalTransactionId });
        // Another process's emulator is another App Store: its root is not trusted here.
        expect(await refusal(apple.verifier.verifyNotification(sent[0]?.signedPayload ?? ''))).toBe('APPLE_VERIFICATION_VERIFICATION_FAILURE');
      } finally {
        await opened.close();
      }
    });

    it('in live mode reads the key and the roots (DER or PEM) from files and calls the configured API origin', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'jobhub-apple-'));
      const der = join(dir, 'root.cer');
      const pem = join(dir, 'root.pem');
      const key = join(dir, 'AuthKey.p8');
      writeFileSync(der, emu.rootCertificateDer);
      writeFileSync(pem, `-----BEGIN CERTIFICATE-----\n${emu.rootCertificateDer.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`);
      writeFileSync(key, emu.apiKey.privateKeyPem);
      const env = {
        APPLE_MODE: 'live',
        APPLE_BUNDLE_ID: APPLE_TEST_BUNDLE_ID,
        APPLE_APP_APPLE_ID: String(APPLE_TEST_APP_ID),
        APPLE_ISSUER_ID: emu.apiKey.issuerId,
        APPLE_KEY_ID: emu.apiKey.keyId,
        APPLE_PRIVATE_KEY_FILE: key,
        APPLE_API_BASE_URL: emu.baseUrl,
        APPLE_ONLINE_CHECKS: 'false',
      };
      const { transactionId, sent } = emu.purchase({ productId: LIFETIME, appAccountToken: token(), deliver: false });
      for (const roots of [der, pem]) {
        const opened = await openApple(testConfig({ ...env, APPLE_ROOT_CA_FILES: roots }).apple, 0, log);
        expect(opened.emulators.apple).toBeUndefined();
        await expect(opened.client.api.getTransactionInfo('Production', transactionId)).resolves.toMatchObject({ transactionId, productId: LIFETIME });
        await expect(opened.client.verifier.verifyNotification(sent[0]?.signedPayload ?? '')).resolves.toMatchObject({ payload: { notificationType: 'ONE_TIME_CHARGE' } });
        await opened.close();
      }
      const hand = { ...testConfig({ ...env, APPLE_ROOT_CA_FILES: der }).apple, rootCaFiles: [], keyId: null };
      await expect(openApple(hand, 0, log)).rejects.toBeInstanceOf(ConfigError);
    });
  });
});
