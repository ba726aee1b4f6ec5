import type { AddressInfo } from 'node:net';
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
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import type { AppleIntegration } from '../../integrations/apple/apple.client';
import type { AppleEmulator } from '../../integrations/apple/emulator/apple.emulator';
import { registry } from '../../jobs';
import { appAccountTokenForUid } from '../../jobs/apple/app-account-token';
import { buildApp } from '../../server/app';
import { appleIntegrationFor, startAppleEmulator } from '../support/apple';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { until } from '../support/wait';

/** The App Store emulator posting to a listening hub app, with real payments workers behind it. */

export const DAY = 86_400_000;
export const MONTH = 30 * DAY;
export const GRACE = 6 * DAY;

export const PRODUCTS = {
  monthly: { productId: 'com.example.vip.monthly', type: 'Auto-Renewable Subscription', periodMs: MONTH, groupId: 'vip', gracePeriodMs: GRACE, price: 2_500, days: '30', vip: AppleProductType.VIP_DAYS },
  yearly: { productId: 'com.example.vip.yearly', type: 'Auto-Renewable Subscription', periodMs: 12 * MONTH, groupId: 'vip', gracePeriodMs: GRACE, price: 19_800, days: '365', vip: AppleProductType.VIP_DAYS },
  pass: { productId: 'com.example.vip.pass7', type: 'Non-Renewing Subscription', price: 600, days: '7', vip: AppleProductType.VIP_DAYS },
  lifetime: { productId: 'com.example.vip.lifetime', type: 'Non-Consumable', price: 49_800, days: '', vip: AppleProductType.FOREVER_VIP },
} as const;

export const APPLE_TABLES = [PayNotifyLog, AppleOrder, AppleProduct, AppUser, HubAppleOrphan, HubAppleSubscription, HubAppleTransaction, HubAppleVip, DmsBusinessLog];

export interface AppleHub {
  hub: TestHub;
  app: FastifyInstance;
  emulator: AppleEmulator;
  apple: AppleIntegration;
  events: QueueEvents;
  webhookUrl: string;
  /** Every notification sent so far delivered, stored and handled by its job. */
  settle(): Promise<void>;
  addUser(): Promise<{ uid: number; token: string }>;
  user(uid: number): Promise<AppUser>;
  orders(filter?: { uid?: number; originalTransactionId?: string }): Promise<AppleOrder[]>;
  order(transactionId: string): Promise<AppleOrder>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

export async function openAppleHub(file: string, options: { sandboxGrantsVip?: boolean; workers?: boolean } = {}): Promise<AppleHub> {
  const emulator = await startAppleEmulator();
  const apple = appleIntegrationFor(emulator, { sandboxGrantsVip: options.sandboxGrantsVip ?? true });
  const hub = await openTestHub(file, { apple });
  const app = await buildApp({ config: hub.config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry, integrations: hub.integrations });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const webhookUrl = `http://127.0.0.1:${port}/webhooks/apple`;
  emulator.setNotificationUrl(webhookUrl);
  for (const p of Object.values(PRODUCTS)) {
    emulator.addProduct({ productId: p.productId, type: p.type, ...('periodMs' in p ? { periodMs: p.periodMs, groupId: p.groupId, gracePeriodMs: p.gracePeriodMs } : {}), priceMilliunits: p.price * 10 });
  }
  const events = await testQueueEvents('payments', hub.prefix);
  if (options.workers !== false) hub.startWorkers(['payments']);

  const insertProducts = async (): Promise<void> => {
    for (const p of Object.values(PRODUCTS)) {
      await hub.db.getRepository(AppleProduct).insert({
        iapProductId: p.productId,
        name: p.productId.slice(-20),
        isSubscription: p.type === 'Auto-Renewable Subscription' ? 1 : 0,
        type: p.vip,
        functionValue: p.days || null,
        salePrice: p.price,
        crossPrice: p.price,
      });
    }
  };
  await clearTables(hub.db, APPLE_TABLES);
  await insertProducts();

  const notifyRepo = hub.db.getRepository(PayNotifyLog);
  return {
    hub,
    app,
    emulator,
    apple,
    events,
    webhookUrl,
    async settle() {
      await emulator.idle();
      await until('every app store notification handled', async () => (await notifyRepo.countBy({ channel: 'APPLE', handled: 0 })) === 0, 20_000);
    },
    async addUser() {
      const inserted = await hub.db.getRepository(AppUser).insert({ nickname: 'buyer', regFrom: 3, createdAt: new Date() });
      const uid = Number((inserted.identifiers[0] as { uid: number }).uid);
      return { uid, token: appAccountTokenForUid(uid) };
    },
    user: (uid) => hub.db.getRepository(AppUser).findOneByOrFail({ uid }),
    orders: (filter = {}) => hub.db.getRepository(AppleOrder).find({ where: filter, order: { purchaseDate: 'ASC', transactionId: 'ASC' } }),
    order: (transactionId) => hub.db.getRepository(AppleOrder).findOneByOrFail({ transactionId }),
    async reset() {
      await emulator.idle();
      await clearTables(hub.db, APPLE_TABLES);
      await insertProducts();
    },
    async close() {
      await emulator.idle();
      await events.close();
      await app.close();
      await clearTables(hub.db, APPLE_TABLES);
      await hub.close();
      await emulator.stop();
    },
  };
}

/** DATETIME keeps whole seconds. */
export const seconds = (ms: number): Date => new Date(Math.floor(ms / 1000) * 1000);
