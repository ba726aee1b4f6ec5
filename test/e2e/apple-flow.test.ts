import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppleOrder, AppleSubscriptionStatusCode as Sub } from '../../entities/app/apple-order.entity';
import { AppleProduct } from '../../entities/app/apple-product.entity';
import { AppUser } from '../../entities/app/user.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import type { AppleEmulator } from '../../integrations/apple/emulator/apple.emulator';
import { appAccountTokenForUid } from '../../jobs/apple/app-account-token';
import { APPLE_TABLES, DAY, GRACE, MONTH, PRODUCTS, seconds } from '../integration/apple-fixtures';
import { APPLE_TEST_APP_ID, APPLE_TEST_BUNDLE_ID, startAppleEmulator } from '../support/apple';
import { childEnv } from '../support/env';
import { openProcessHarness, type ProcessHarness } from '../support/process-harness';
import { spawnBuilt, type HubProcess } from '../support/processes';
import { until } from '../support/wait';

jest.setTimeout(90_000);

/**
 * A subscriber's year end to end: the built web and worker processes configured as for the real App
 * Store (APPLE_MODE=live: roots, key and API host from the environment) pointed at the emulator,
 * whose sender posts each notification to the web process's webhook; the worker applies it.
 */
describe('App Store end to end: bought, renewed twice, fails to renew, recovers, refunded', () => {
  let harness: ProcessHarness;
  let emulator: AppleEmulator;
  let web: HubProcess;
  let worker: HubProcess;

  beforeAll(async () => {
    harness = await openProcessHarness(__filename, 'payments', APPLE_TABLES);
    emulator = await startAppleEmulator();
    for (const p of [PRODUCTS.monthly]) emulator.addProduct({ productId: p.productId, type: p.type, periodMs: p.periodMs, groupId: p.groupId, gracePeriodMs: p.gracePeriodMs, priceMilliunits: p.price * 10 });
    const dir = mkdtempSync(join(tmpdir(), 'jobhub-apple-'));
    writeFileSync(join(dir, 'root.cer'), emulator.rootCertificateDer);
    writeFileSync(join(dir, 'key.p8'), emulator.apiKey.privateKeyPem);
    const env = childEnv({
      HUB_QUEUE_PREFIX: harness.prefix,
      HUB_MIGRATE_ON_START: 'true',
      APPLE_MODE: 'live',
      APPLE_BUNDLE_ID: APPLE_TEST_BUNDLE_ID,
      APPLE_APP_APPLE_ID: String(APPLE_TEST_APP_ID),
      APPLE_ISSUER_ID: emulator.apiKey.issuerId,
      APPLE_KEY_ID: emulator.apiKey.keyId,
      APPLE_PRIVATE_KEY_FILE: join(dir, 'key.p8'),
      APPLE_ROOT_CA_FILES: join(dir, 'root.cer'),
      APPLE_API_BASE_URL: emulator.baseUrl,
      APPLE_ONLINE_CHECKS: 'false',
    });
    worker = spawnBuilt('workers/worker.main.js', { ...env, HUB_QUEUES: 'payments' });
    await worker.waitFor(/"msg":"workers started"/, 30_000);
    web = spawnBuilt('server/web.main.js', env);
    await web.waitFor(/"msg":"web listening"/, 30_000);
    const port = /"port":(\d+)[^\n]*"msg":"web listening"/.exec(web.stdout())?.[1];
    emulator.setNotificationUrl(`http://127.0.0.1:${port ?? ''}/webhooks/apple`);
  });
  afterAll(async () => {
    await emulator.idle();
    for (const p of [web, worker]) p.child.kill('SIGTERM');
    const codes = await Promise.all([web.exited(), worker.exited()]);
    await emulator.stop();
    await harness.close();
    expect(codes).toEqual([0, 0]);
  });

  const settle = async (): Promise<void> => {
    await emulator.idle();
    await until('every notification handled by the worker', async () => (await harness.db.getRepository(PayNotifyLog).countBy({ channel: 'APPLE', handled: 0 })) === 0, 30_000);
  };
  const orderOf = (transactionId: string) => harness.db.getRepository(AppleOrder).findOneByOrFail({ transactionId });
  const expiryOf = async (transactionId: string) => (await orderOf(transactionId)).expiresDate?.getTime() ?? 0;

  it('keeps user.vip_expired_at right at every step', async () => {
    await harness.db.getRepository(AppleProduct).insert({ iapProductId: PRODUCTS.monthly.productId, name: 'VIP monthly', isSubscription: 1, type: 1, functionValue: '30', salePrice: PRODUCTS.monthly.price });
    const inserted = await harness.db.getRepository(AppUser).insert({ nickname: 'subscriber', regFrom: 3, createdAt: new Date() });
    const uid = Number((inserted.identifiers[0] as { uid: number }).uid);
    const vip = async () => (await harness.db.getRepository(AppUser).findOneByOrFail({ uid })).vipExpiredAt?.getTime() ?? null;

    const bought = emulator.subscribe({ productId: PRODUCTS.monthly.productId, appAccountToken: appAccountTokenForUid(uid) });
    const otid = bought.originalTransactionId;
    await settle();
    expect(await orderOf(bought.transactionId)).toMatchObject({ uid, paymentStatus: 2, subscriptionStatus: Sub.ACTIVE, amount: PRODUCTS.monthly.price, dataSource: 2 });
    expect(await vip()).toBe(await expiryOf(bought.transactionId));

    emulator.advance(MONTH - DAY);
    const second = emulator.renew(otid);
    await settle();
    expect(await vip()).toBe(await expiryOf(second.transactionId));
    emulator.advance(MONTH);
    const third = emulator.renew(otid);
    await settle();
    const thirdEnd = await expiryOf(third.transactionId);
    expect(await vip()).toBe(thirdEnd);

    emulator.advance(MONTH + DAY);
    emulator.failRenewal(otid, { grace: true });
    await settle();
    expect(await orderOf(third.transactionId)).toMatchObject({ subscriptionStatus: Sub.GRACE });
    expect(await vip()).toBe(seconds(thirdEnd + GRACE).getTime());

    emulator.advance(2 * DAY);
    const recovered = emulator.recover(otid);
    await settle();
    expect(await orderOf(recovered.transactionId)).toMatchObject({ subscriptionStatus: Sub.ACTIVE });
    expect(await orderOf(third.transactionId)).toMatchObject({ subscriptionStatus: Sub.EXPIRED });
    expect(await vip()).toBe(await expiryOf(recovered.transactionId));

    emulator.advance(3 * DAY);
    emulator.refund(recovered.transactionId);
    await settle();
    expect(await orderOf(recovered.transactionId)).toMatchObject({ paymentStatus: 3, subscriptionStatus: Sub.CANCELLED });
    // Only the refunded period's grant goes: what is left is the third period, long over.
    expect(await vip()).toBe(thirdEnd);
    expect(await vip()).toBeLessThan(emulator.now());

    const rows = await harness.db.getRepository(AppleOrder).find({ where: { originalTransactionId: otid } });
    expect(rows).toHaveLength(4);
    expect(await harness.db.getRepository(PayNotifyLog).countBy({ channel: 'APPLE', handled: 1 })).toBe(6);
    // Every notification the emulator sent was answered 200 by the web process the first time.
    expect(emulator.deliveries().map((d) => [d.attempt, d.httpStatus])).toEqual(Array.from({ length: 6 }, () => [1, 200]));
  });
});
