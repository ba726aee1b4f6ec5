import type { DataSource } from 'typeorm';
import { AppleProduct, AppleProductType } from '../../entities/app/apple-product.entity';
import { AppUser, AppUserRegFrom } from '../../entities/app/user.entity';
import type { AppleEmulator } from '../../integrations/apple/emulator/apple.emulator';
import { appleReconcile } from '../../jobs/apple/apple-reconcile.job';
import { appAccountTokenForUid } from '../../jobs/apple/app-account-token';
import type { Enqueue } from '../../jobs/context';
import type { Logger } from '../../lib/logger';
import { beijingDate } from '../../lib/time';

export interface AppleDemoDeps {
  db: DataSource;
  /** The App Store emulator `APPLE_MODE=emulator` started; it posts to this hub's webhook. */
  emulator: AppleEmulator;
  enqueue: Enqueue;
  log: Logger;
}

const MONTHLY = 'com.example.jobhub.vip.monthly';
const FOREVER = 'com.example.jobhub.vip.forever';

const PRODUCTS = [
  { iapProductId: MONTHLY, name: '高级会员月卡', subName: '尊享所有高级功能30天', isSubscription: 1, subscriptionDuration: 2, type: AppleProductType.VIP_DAYS, functionValue: '30', crossPrice: 2_500, salePrice: 1_800 },
  { iapProductId: FOREVER, name: '永久会员', subName: '一次购买，永久有效', isSubscription: 0, subscriptionDuration: null, type: AppleProductType.FOREVER_VIP, functionValue: null, crossPrice: 39_800, salePrice: 19_800 },
];

/**
 * `npm start` in development: three App Store customers whose purchases the emulator notifies to
 * the hub's webhook, so apple_order and the users' VIP fields fill within seconds — one subscribed
 * and renewed twice (the second renewal's delivery fails: the reconciliation enqueued for today
 * recovers it half a minute later), one refunded, one with a permanent VIP.
 */
export async function seedAppleDemo(deps: AppleDemoDeps): Promise<void> {
  const { db, emulator, log } = deps;
  const now = new Date();
  for (const p of PRODUCTS) {
    if (!(await db.getRepository(AppleProduct).existsBy({ iapProductId: p.iapProductId }))) await db.getRepository(AppleProduct).insert({ ...p, createdAt: now, updatedAt: now });
  }
  emulator.addProduct({ productId: MONTHLY, type: 'Auto-Renewable Subscription', priceMilliunits: 18_000 });
  emulator.addProduct({ productId: FOREVER, type: 'Non-Consumable', priceMilliunits: 198_000 });

  const user = async (nickname: string): Promise<string> => {
    const saved = await db.getRepository(AppUser).save({ nickname, regFrom: AppUserRegFrom.APPLE, createdAt: now });
    return appAccountTokenForUid(saved.uid);
  };
  const renewing = emulator.subscribe({ productId: MONTHLY, appAccountToken: await user('苹果续费用户') });
  emulator.renew(renewing.originalTransactionId);
  emulator.failNextDeliveries(1);
  emulator.renew(renewing.originalTransactionId);
  const refunded = emulator.subscribe({ productId: MONTHLY, appAccountToken: await user('苹果退款用户') });
  emulator.refund(refunded.transactionId);
  emulator.purchase({ productId: FOREVER, appAccountToken: await user('苹果永久会员') });

  await deps.enqueue(appleReconcile, { environment: 'Production', date: beijingDate(now) }, { delay: 30_000 });
  log.info({ products: PRODUCTS.map((p) => p.iapProductId) }, 'demo app store purchases sent to the webhook: apple_order rows and VIP dates within seconds, a reconciliation in 30 s');
}
