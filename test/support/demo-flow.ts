import type { DataSource } from 'typeorm';
import { AndroidOrder } from '../../entities/app/android-order.entity';
import { DiscountCouponCode } from '../../entities/marketing/discount-coupon-code.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { EmailRecord } from '../../entities/customer-service/email-record.entity';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { GroupBuyEvent } from '../../entities/marketing/group-buy-event.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';
import { GroupBuyEventRobot } from '../../entities/marketing/group-buy-event-robot.entity';
import { GroupBuyEventRobotRecord } from '../../entities/marketing/group-buy-event-robot-record.entity';
import { GroupBuyEventRule } from '../../entities/marketing/group-buy-event-rule.entity';
import { GroupBuyEventTeam } from '../../entities/marketing/group-buy-event-team.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { HubReconciliationRun } from '../../entities/hub/hub-reconciliation-run.entity';
import { Member } from '../../entities/marketing/member.entity';
import { Notify } from '../../entities/customer-service/notify.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { Sms } from '../../entities/customer-service/sms.entity';
import { clearTables } from './db';
import { childEnv } from './env';
import { spawnBuilt, type HubProcess } from './processes';
import { until } from './wait';

export const DEMO_TABLES = [PaymentOrder, EventOrder, AndroidOrder, PayNotifyLog, DmsBusinessLog, HubReconciliationRun, HubReconciliationItem, HubMessageDelivery, Sms, EmailRecord, Notify, Member];
const MARKETING_TABLES = [GroupBuyEvent, GroupBuyEventRule, GroupBuyEventRobot, GroupBuyEventRobotRecord, GroupBuyEventTeam, GroupBuyEventOrder, DiscountCouponCode];
/** A merchant of this file's own, so other files' payments of the day never enter its reconciliation. */
const MCHID = '1900000777';

/** Every table the demo writes: emptied before and after a run. */
export async function clearDemoTables(db: DataSource): Promise<void> {
  await clearTables(db, [...DEMO_TABLES, ...MARKETING_TABLES]);
}

/**
 * `npm start` as a newcomer runs it: the WeChat Pay emulator in-process, demo orders paid there,
 * callbacks through the real webhook, the sync and close jobs, the clock, and today's bill
 * reconciled, then the messaging and marketing demos — all in the built hub process, checked in
 * the tables. `env` says where its Redis is. Resolves with the process stopped by SIGTERM.
 */
export async function runDemoFlow(db: DataSource, env: Record<string, string>): Promise<HubProcess> {
  const hub = spawnBuilt('server/hub.main.js', childEnv({ ...env, HUB_DEMO_DATA: 'true', WECHAT_PAY_MCHID: MCHID }));
  try {
    await hub.waitFor(/"msg":"demo orders created and paid at the WeChat Pay emulator"/, 30_000);
    const run = /"outTradeNoPrefix":"(DEMO\d+)"/.exec(hub.stdout())?.[1];
    const billDate = /"billDate":"(\d{4}-\d{2}-\d{2})","msg":"demo orders created/.exec(hub.stdout())?.[1];
    expect(run).toBeDefined();
    expect(billDate).toBeDefined();
    const payments = db.getRepository(PaymentOrder);
    const statusOf = async (suffix: string): Promise<string | undefined> => (await payments.findOneBy({ outTradeNo: `${run}${suffix}` }))?.payStatus;

    await until('the paid and the lost-callback orders to be PAY_SUCCESS', async () => (await statusOf('A')) === 'PAY_SUCCESS' && (await statusOf('B')) === 'PAY_SUCCESS', 30_000, 200);
    await until('the app order to be paid', async () => (await db.getRepository(AndroidOrder).findOneBy({ oid: `${run}APP` }))?.status === 2, 30_000, 200);
    // The clock's close-expired slot comes within a minute of the start.
    await until('the expired order to be closed', async () => (await statusOf('C')) === 'PAY_FAILED', 75_000, 500);
    const eventOrders = await db.getRepository(EventOrder).find({ order: { id: 'ASC' } });
    expect(eventOrders.map((o) => [o.pamentStatus, o.status])).toEqual([
      ['PAY_SUCCESS', 'JOINED'],
      ['PAY_SUCCESS', 'JOINED'],
      ['PAY_FAILED', 'CANCELLED'],
    ]);
    const app = await db.getRepository(AndroidOrder).findOneByOrFail({ oid: `${run}APP` });
    expect(app).toMatchObject({ status: 2, paymentAmount: 9_400 });
    expect(app.tid).toMatch(/^\d{28}$/);

    // The clock's catch-up run of the last 10:00 slot (an earlier day's bill) may also exist: not this one.
    const todays = { merchant: MCHID, billDate };
    await until("today's reconciliation to complete", async () => (await db.getRepository(HubReconciliationRun).findOneBy(todays))?.status === 'COMPLETED', 60_000, 500);
    const recon = await db.getRepository(HubReconciliationRun).findOneByOrFail(todays);
    expect(recon).toMatchObject({ billPaymentCount: 3, billPaymentTotal: String(990 + 1_990 + 9_400), discrepancyCount: 0 });
    expect(await db.getRepository(HubReconciliationItem).countBy({ runId: recon.id })).toBe(0);

    // One message of each kind, each sent once; the first SMS found Aliyun down and went through Tencent.
    const messages = /"run":"(demo\d+)","msg":"demo messages enqueued/.exec(hub.stdout())?.[1];
    expect(messages).toBeDefined();
    const deliveries = db.getRepository(HubMessageDelivery);
    const messagingDemo = async (): Promise<HubMessageDelivery[]> => (await deliveries.find({ order: { id: 'ASC' } })).filter((d) => d.deliveryKey.includes(messages ?? '?'));
    await until('every demo message sent', async () => (await messagingDemo()).filter((d) => d.status === 'SENT').length === 6, 30_000, 200);
    const sent = await messagingDemo();
    expect(sent.map((d) => d.channel).sort()).toEqual(['email', 'email', 'sms', 'sms', 'wechat-subscribe', 'wechat-template']);
    expect(sent.filter((d) => d.channel === 'sms').map((d) => d.provider)).toContain('tencent');
    const notifications = (await db.getRepository(Notify).find({ order: { id: 'ASC' } })).filter((n) => n.notifyId.startsWith(`${messages}-`));
    expect(notifications.map((n) => [n.notifyId, n.status])).toEqual([
      [`${messages}-inapp`, 1],
      [`${messages}-mail`, 1],
      [`${messages}-sms`, 1],
    ]);

    // Marketing: robots complete the team about to expire and its member is told once; the
    // expired team fails; the due coupons expire; the event's reminder is owed once per member.
    const teams = db.getRepository(GroupBuyEventTeam);
    await until('the demo teams to settle', async () => (await teams.countBy({ status: 'OPEN' })) === 1, 30_000, 200);
    expect((await teams.find({ order: { id: 'ASC' } })).map((t) => [t.status, t.joinedCount, t.robotCount])).toEqual([
      ['SUCCESS', 3, 2],
      ['FAILED', 1, 0],
      ['OPEN', 1, 0],
    ]);
    await until('the due coupons to expire', async () => (await db.getRepository(DiscountCouponCode).countBy({ status: 'TIME_OUT' })) === 600, 30_000, 200);
    expect(await db.getRepository(DiscountCouponCode).countBy({ status: 'UNUSED' })).toBe(200);
    const orderOf = (mobile: string): Promise<GroupBuyEventOrder> => db.getRepository(GroupBuyEventOrder).findOneByOrFail({ memberMobile: mobile });
    const [succeeded, waiting] = [await orderOf('13900139001'), await orderOf('13900139003')];
    expect(succeeded).toMatchObject({ status: 'SUCCESS', code: expect.stringMatching(/^\d{12}$/) });
    const remindKey = (o: GroupBuyEventOrder): string => `group-buy-remind-${o.groupBuyEventId ?? ''}-${o.id}`;
    await until('the success notice sent', async () => (await deliveries.findOneBy({ deliveryKey: `group-buy-success-${succeeded.id}` }))?.status === 'SENT', 30_000, 200);
    await until('the reminder sent', async () => (await deliveries.findOneBy({ deliveryKey: remindKey(waiting) }))?.status === 'SENT', 30_000, 200);
    // The member told of success is reminded too, a minute later: the vendor allows one SMS a minute per number.
    expect(await deliveries.countBy({ deliveryKey: remindKey(succeeded) })).toBe(1);
    expect(await db.getRepository(Sms).countBy({ status: 2 })).toBe(0);

    hub.child.kill('SIGTERM');
    expect(await hub.exited()).toBe(0);
  } finally {
    if (hub.child.exitCode === null) hub.child.kill('SIGKILL');
  }
  return hub;
}
