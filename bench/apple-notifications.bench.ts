import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Environment, SignedDataVerifier } from '@apple/app-store-server-library';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { AppleOrder } from '../entities/app/apple-order.entity';
import { AppleProduct, AppleProductType } from '../entities/app/apple-product.entity';
import { AppUser } from '../entities/app/user.entity';
import { applyBusinessSchema } from '../entities/schema/apply-business-schema';
import { createDataSource } from '../entities/data-source';
import { migrate } from '../entities/schema/migrate';
import { withServerConnection } from '../entities/schema/mysql-server';
import { NO_INTEGRATIONS } from '../integrations';
import type { AppleIntegration } from '../integrations/apple/apple.client';
import { AppleEmulator } from '../integrations/apple/emulator/apple.emulator';
import { createAppleIntegration } from '../integrations/apple';
import { appAccountTokenForUid } from '../jobs/apple/app-account-token';
import type { Config } from '../lib/config';
import { createLogger } from '../lib/logger';
import { withDatabase } from './bench-database';
import { rateOf, startBenchHub } from './bench-hub';
import { median, pairedRun, type BenchRow } from './table';

const NOTIFICATIONS = 1_000;
const RUNS = 3;
/** Requests in flight at once, for the bare verifications and the webhook alike. */
const CONCURRENCY = 50;
const BUNDLE_ID = 'com.example.jobhub.bench';
const APP_APPLE_ID = 1_234_567_890;
const PRODUCT_ID = 'com.example.jobhub.bench.monthly';
const DATABASE = 'jobhub_bench_apple';

/** One SUBSCRIBED notification per user, signed by the emulator and not sent: the bench posts them. */
function notifications(emulator: AppleEmulator, uids: readonly number[]): string[] {
  return uids.map((uid) => {
    const { sent } = emulator.subscribe({ productId: PRODUCT_ID, appAccountToken: appAccountTokenForUid(uid), deliver: false });
    const [first] = sent;
    if (!first) throw new Error('the emulator signed no notification');
    return first.signedPayload;
  });
}

async function users(db: DataSource, from: number, count: number): Promise<number[]> {
  const uids = Array.from({ length: count }, (_, i) => from + i);
  const now = new Date();
  for (let i = 0; i < uids.length; i += 1_000) {
    await db.getRepository(AppUser).insert(uids.slice(i, i + 1_000).map((uid) => ({ uid, nickname: `bench-${uid}`, createdAt: now })));
  }
  return uids;
}

/** Posts every notification to the webhook, then waits for its apple_order row; notifications per second. */
async function throughHub(url: string, db: DataSource, payloads: readonly string[], rowsBefore: number): Promise<number> {
  const orders = db.getRepository(AppleOrder);
  const started = performance.now();
  await rateOf(payloads.length, CONCURRENCY, async (i) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ signedPayload: payloads[i] }) });
    if (res.status !== 200) throw new Error(`notification ${i}: ${res.status} ${await res.text()}`);
  });
  while ((await orders.count()) < rowsBefore + payloads.length) await new Promise((resolve) => setTimeout(resolve, 20));
  return (payloads.length / (performance.now() - started)) * 1_000;
}

/** Apple's verifier alone on the same payloads: the outer JWS only, as `verifyAndDecodeNotification` checks it. */
async function bare(verifier: SignedDataVerifier, payloads: readonly string[]): Promise<number> {
  const { perS } = await rateOf(payloads.length, CONCURRENCY, async (i) => {
    await verifier.verifyAndDecodeNotification(payloads[i] ?? '');
  });
  return perS;
}

/**
 * App Store notifications end to end — `POST /webhooks/apple` (verified, stored in pay_notify_log,
 * enqueued), `apple-handle-notification` (verified again with its transaction and renewal, applied
 * to apple_order, the subscription state and the user's VIP) — until every apple_order row is
 * committed; against bare `verifyAndDecodeNotification` calls on the same payloads.
 */
export async function benchAppleNotifications(base: Config): Promise<BenchRow> {
  const config = withDatabase(base, DATABASE);
  const quiet = createLogger({ level: 'warn' });
  await withServerConnection(config.mysql, (conn) => conn.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``));
  await applyBusinessSchema(config, quiet);
  await migrate(config, quiet);
  const log = createLogger({ level: 'info', destination: pino.destination({ dest: join(mkdtempSync(join(tmpdir(), 'jobhub-bench-')), 'apple.log'), sync: false }) });
  const emulator = await AppleEmulator.start({ bundleId: BUNDLE_ID, appAppleId: APP_APPLE_ID });
  const db = await createDataSource(config);
  try {
    emulator.addProduct({ productId: PRODUCT_ID, type: 'Auto-Renewable Subscription' });
    await db.getRepository(AppleProduct).insert({ iapProductId: PRODUCT_ID, name: 'VIP monthly', isSubscription: 1, subscriptionDuration: 2, type: AppleProductType.VIP_DAYS, functionValue: '30', salePrice: 1_800 });
    const apple: AppleIntegration = createAppleIntegration(
      {
        bundleId: BUNDLE_ID, appAppleId: APP_APPLE_ID, environments: ['Production'], sandboxGrantsVip: true, rootCertificates: [emulator.rootCertificateDer],
        onlineChecks: false, apiKey: emulator.apiKey, apiBaseUrl: emulator.baseUrl, timeoutMs: 10_000,
      },
      log,
    );
    const verifier = new SignedDataVerifier([emulator.rootCertificateDer], false, Environment.PRODUCTION, BUNDLE_ID, APP_APPLE_ID);
    const hub = await startBenchHub('apple', config, db, { ...NO_INTEGRATIONS, apple }, log, ['payments']);
    const url = `http://127.0.0.1:${hub.port}/webhooks/apple`;
    const batches: string[][] = [];
    for (let run = 0; run <= RUNS; run++) batches.push(notifications(emulator, await users(db, 1 + run * NOTIFICATIONS, run === 0 ? 200 : NOTIFICATIONS)));
    let rows = 0;
    const [warm = [], ...measured] = batches;
    // Warm both paths up (JIT, connections, the verifier's certificate cache) before anything is timed.
    await bare(verifier, warm);
    await throughHub(url, db, warm, rows);
    rows += warm.length;
    const bareRates: number[] = [];
    const ourRates: number[] = [];
    for (const [run, payloads] of measured.entries()) {
      const measureBare = async (): Promise<void> => void bareRates.push(await bare(verifier, payloads));
      const measureOurs = async (): Promise<void> => {
        ourRates.push(await throughHub(url, db, payloads, rows));
        rows += payloads.length;
      };
      await pairedRun(run, measureBare, measureOurs);
    }
    await hub.stop();
    const vip = await db.getRepository(AppUser).createQueryBuilder('u').where('u.vip_expired_at IS NOT NULL').getCount();
    if (vip !== rows) throw new Error(`${vip} of ${rows} users got their VIP`);
    return {
      scenario: `App Store notifications: ${NOTIFICATIONS.toLocaleString('en-US')} SUBSCRIBED, webhook POST to committed apple_order row, ${CONCURRENCY} at once, median of ${RUNS} paired runs`,
      unit: 'notifications/s',
      baseline: { label: 'bare verifyAndDecodeNotification', value: median(bareRates) },
      ours: { label: 'verified and applied through the hub', value: median(ourRates) },
      ratio: median(ourRates.map((rate, i) => rate / (bareRates[i] as number))),
      notes: `runs bare ${bareRates.map(Math.round).join(', ')}; hub ${ourRates.map(Math.round).join(', ')}; the hub verifies each notification twice (webhook, job) with its transaction and renewal (3 JWS each time); every user got VIP`,
    };
  } finally {
    await db.destroy();
    await emulator.stop();
    await withServerConnection(config.mysql, (conn) => conn.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``));
  }
}
