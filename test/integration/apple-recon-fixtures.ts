import type { QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { AppleOrder } from '../../entities/app/apple-order.entity';
import { AppleProduct, AppleProductType } from '../../entities/app/apple-product.entity';
import { AppUser } from '../../entities/app/user.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { HubAppleOrphan } from '../../entities/hub/hub-apple-orphan.entity';
import { HubAppleSubscription } from '../../entities/hub/hub-apple-subscription.entity';
import { HubAppleTransaction } from '../../entities/hub/hub-apple-transaction.entity';
import { HubAppleVip } from '../../entities/hub/hub-apple-vip.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { HubReconciliationRun } from '../../entities/hub/hub-reconciliation-run.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import type { AppleIntegration } from '../../integrations/apple/apple.client';
import type { AppleEmulator } from '../../integrations/apple/emulator/apple.emulator';
import { registry } from '../../jobs';
import { appAccountTokenForUid } from '../../jobs/apple/app-account-token';
import type { Enqueueable } from '../../jobs/context';
import { buildApp } from '../../server/app';
import { appleIntegrationFor, startAppleEmulator } from '../support/apple';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { until } from '../support/wait';
import type { z } from 'zod';

export const API_TOKEN = 'apple-recon-test-token-0123456789';
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export const APPLE_RECON_TABLES = [
  AppleOrder, AppleProduct, AppUser, PayNotifyLog, HubReconciliationRun, HubReconciliationItem,
  HubAppleSubscription, HubAppleTransaction, HubAppleVip, HubAppleOrphan, DmsBusinessLog,
];

/**
 * The hub as it runs for Apple: the emulator posts its notifications to the real webhook of a
 * listening app, and real workers run the payments and reconcile queues. The emulator does not
 * retry a failed send, so a failed delivery stays missed until a job finds it.
 */
export interface AppleReconHarness {
  hub: TestHub;
  emulator: AppleEmulator;
  apple: AppleIntegration;
  app: FastifyInstance;
  /** A user of the app and the appAccountToken its purchases carry. */
  user(): Promise<{ uid: number; token: string }>;
  /** A product at the emulator and in apple_product (30 VIP days, 1,800 fen). */
  product(productId: string, o?: { periodMs?: number; gracePeriodMs?: number }): Promise<void>;
  /** Runs a job through the queue and returns its result. */
  run<S extends z.ZodType>(def: Enqueueable<S>, payload: z.input<S>): Promise<{ status: string; result: unknown }>;
  /** Every send done and every stored notification handled by its job. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function openAppleRecon(file: string): Promise<AppleReconHarness> {
  const emulator = await startAppleEmulator({ retryDelaysMs: [] });
  const apple = appleIntegrationFor(emulator);
  const hub = await openTestHub(file, { apple, env: { HUB_API_TOKENS: `ops:${API_TOKEN}` } });
  const events = new Map<string, QueueEvents>();
  for (const q of ['payments', 'reconcile'] as const) events.set(q, await testQueueEvents(q, hub.prefix));
  const app = await buildApp({ config: hub.config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry, integrations: hub.integrations });
  await app.listen({ port: 0, host: '127.0.0.1' });
  emulator.setNotificationUrl(`${app.listeningOrigin}/webhooks/apple`);
  hub.startWorkers(['payments', 'reconcile']);
  await clearTables(hub.db, APPLE_RECON_TABLES);
  let nextUid = 70_000 + Math.floor(Math.random() * 10_000);
  return {
    hub,
    emulator,
    apple,
    app,
    async user() {
      const uid = ++nextUid;
      await hub.db.getRepository(AppUser).insert({ uid, nickname: `apple-${uid}`, createdAt: new Date() });
      return { uid, token: appAccountTokenForUid(uid) };
    },
    async product(productId, o = {}) {
      emulator.addProduct({ productId, type: 'Auto-Renewable Subscription', periodMs: o.periodMs ?? 30 * DAY_MS, gracePeriodMs: o.gracePeriodMs });
      await hub.db.getRepository(AppleProduct).insert({
        iapProductId: productId, name: productId.slice(-32), isSubscription: 1, subscriptionDuration: 2, type: AppleProductType.VIP_DAYS,
        functionValue: '30', salePrice: 1_800, crossPrice: 2_500,
      });
    },
    async run(def, payload) {
      const { id } = await hub.enqueue(def, payload);
      const job = await hub.queues.get(def.queue).getJob(id);
      const queueEvents = events.get(def.queue);
      if (!job || !queueEvents) throw new Error(`job ${id} of ${def.queue} not found`);
      return (await job.waitUntilFinished(queueEvents, 30_000)) as { status: string; result: unknown };
    },
    async settled() {
      await emulator.idle();
      const notes = hub.db.getRepository(PayNotifyLog);
      await until('every stored apple notification handled', async () => (await notes.countBy({ channel: 'APPLE', handled: 0 })) === 0, 20_000);
    },
    async close() {
      await app.close();
      for (const e of events.values()) await e.close();
      await clearTables(hub.db, APPLE_RECON_TABLES);
      await hub.close();
      await emulator.stop();
    },
  };
}
