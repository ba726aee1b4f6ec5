import type { DataSource } from 'typeorm';
import { AndroidOrder } from '../../entities/app/android-order.entity';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import type { AppleEmulator } from '../../integrations/apple/emulator/apple.emulator';
import type { WechatPayEmulator } from '../../integrations/wechat-pay/emulator/wechat-pay.emulator';
import { wechatPayReconcileBill } from '../../jobs/wechat-pay/wechat-pay-reconcile-bill.job';
import { enqueueSyncOrder } from '../../jobs/wechat-pay/wechat-pay-sync-order.job';
import type { Enqueue } from '../../jobs/context';
import type { Logger } from '../../lib/logger';
import { beijingDate, beijingSlot } from '../../lib/time';
import { seedAppleDemo } from './demo-apple';

const MINUTE_MS = 60_000;

export interface DemoDeps {
  db: DataSource;
  emulator: WechatPayEmulator;
  mchid: string;
  appid: string;
  enqueue: Enqueue;
  log: Logger;
  /** The App Store emulator, when `APPLE_MODE=emulator` started one. */
  apple?: AppleEmulator;
}

/**
 * `npm start` in development: orders that take every payment path, so the dashboard, the tables
 * and the reconciliation API show the hub at work within a minute. Each start writes its own
 * orders (out_trade_no `DEMO<start time>…`), since the emulator forgets its orders on restart.
 */
export async function seedDemo(deps: DemoDeps): Promise<void> {
  const { db, emulator, mchid, appid, log } = deps;
  const now = new Date();
  const run = `DEMO${beijingSlot(now, true)}`;
  const order = async (suffix: string, amount: number, expiresInMs: number): Promise<PaymentOrder> => {
    const outTradeNo = `${run}${suffix}`;
    const timeExpire = new Date(now.getTime() + expiresInMs);
    const payment = await db.getRepository(PaymentOrder).save({
      businessType: 'EVENT',
      mchid,
      appid,
      outTradeNo,
      description: 'Demo event sign-up',
      amount,
      payStatus: 'UNPAID',
      timeExpire,
      refundedAmount: 0,
      createdTime: now,
      updatedTime: now,
      deleted: 0,
    });
    await db.getRepository(EventOrder).insert({
      name: 'Demo event',
      pamentStatus: 'UNPAID',
      status: 'WAITING_PAY',
      paymentOrderId: payment.id,
      chargedMount: amount,
      timeExpire,
      createdTime: now,
      updatedTime: now,
      deleted: 0,
    });
    emulator.createOrder({ mchid, out_trade_no: outTradeNo, total: amount, description: 'Demo event sign-up', time_expire: timeExpire });
    return payment;
  };

  // Paid: WeChat calls the webhook, the notification job applies it.
  const paid = await order('A', 990, 30 * MINUTE_MS);
  emulator.pay(paid.outTradeNo);
  // Paid, the callback lost: the sync job finds it (the clock's stuck-order scan would too, after 5 minutes).
  const lost = await order('B', 1_990, 30 * MINUTE_MS);
  emulator.pay(lost.outTradeNo, { notify: false });
  await enqueueSyncOrder(deps.enqueue, mchid, lost.outTradeNo);
  // Never paid and already expired: the clock's close-expired run closes it at WeChat within a minute.
  await order('C', 4_990, -MINUTE_MS);
  // An app order (android_order), paid.
  const appOrder = `${run}APP`;
  await db.getRepository(AndroidOrder).insert({
    oid: appOrder,
    uid: 1857248324,
    productId: 1001,
    productPrice: 9_900,
    discountAmount: 500,
    orderAmount: 9_400,
    createdAt: now,
    updatedAt: now,
  });
  emulator.createOrder({ mchid, out_trade_no: appOrder, total: 9_400, description: 'Demo VIP month' });
  emulator.pay(appOrder);

  // Today's bill, ready at once, reconciled after the callbacks had time to land.
  const today = beijingDate(now);
  emulator.setBillState(mchid, today, 'ready');
  await deps.enqueue(wechatPayReconcileBill, { mchid, billDate: today }, { delay: MINUTE_MS / 2 });
  log.info({ outTradeNoPrefix: run, billDate: today }, 'demo orders created and paid at the WeChat Pay emulator');
  if (deps.apple) await seedAppleDemo({ db, emulator: deps.apple, enqueue: deps.enqueue, log });
}
