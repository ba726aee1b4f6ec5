import type { QueueEvents } from 'bullmq';
import { GroupBuyEvent } from '../../entities/marketing/group-buy-event.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';
import { GroupBuyEventTeam } from '../../entities/marketing/group-buy-event-team.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { groupBuyCloseTeams } from '../../jobs/marketing/group-buy/group-buy-close-teams.job';
import { outRefundNoFor } from '../../jobs/wechat-pay/request-refund';
import { BusinessSource } from '../../entities/dms/audit';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { clearTables } from '../support/db';
import { testQueueEvents } from '../support/queues';
import { refundHarness } from '../support/refund-harness';
import { GROUP_BUY_TABLES, nextMember, seedEvent, seedTeam, type MemberSpec } from './group-buy-fixtures';

const MINUTE = 60_000;
/** Whole seconds: DATETIME keeps no fraction. */
const clock = (offsetMinutes = 0): Date => new Date(Math.floor(Date.now() / 1_000) * 1_000 + offsetMinutes * MINUTE);

describe('group-buy-close-teams: expired teams FAILED, paid members refunded once through the refunds path', () => {
  const t = refundHarness(__filename);
  let events: QueueEvents;

  beforeAll(async () => {
    events = await testQueueEvents('marketing', t.h.hub.prefix);
    t.h.hub.startWorkers(['marketing']);
  });
  // The harness's own afterAll closes the hub first: the group-buy rows go with the next run's fresh database.
  afterAll(() => events.close());
  beforeEach(() => clearTables(t.h.hub.db, GROUP_BUY_TABLES));

  const db = () => t.h.hub.db;
  const close = async (): Promise<unknown> => {
    const { id } = await t.h.hub.enqueue(groupBuyCloseTeams, {});
    const job = await t.h.hub.queues.get('marketing').getJob(id);
    return job?.waitUntilFinished(events, 30_000);
  };
  const order = (id: string) => db().getRepository(GroupBuyEventOrder).findOneByOrFail({ id });
  const team = (id: string) => db().getRepository(GroupBuyEventTeam).findOneByOrFail({ id });
  const ordersOf = (teamId: string) => db().getRepository(GroupBuyEventOrder).find({ where: { groupBuyEventTeamId: teamId }, order: { id: 'ASC' } });
  const refundNo = (orderId: string) => outRefundNoFor('group-buy-close-teams', `group-buy-order-${orderId}`);
  /** A member paid at the emulator, the payment recorded here (its group-buy order is then placed in a team). */
  async function paidMember(amount: number): Promise<MemberSpec & { outTradeNo: string }> {
    const p = await t.paidPayment(amount, { business: 'GROUP_BUY' });
    await db().getRepository(GroupBuyEventOrder).delete({ paymentOrderId: p.id });
    return { ...nextMember({ paymentOrderId: p.id }), outTradeNo: p.outTradeNo };
  }
  async function addRobot(eventId: string, teamId: string): Promise<void> {
    await db().getRepository(GroupBuyEventOrder).insert({ groupBuyEventId: eventId, groupBuyEventTeamId: teamId, robot: 1, teamLeader: 0, status: 'JOINED', pamentStatus: 'NONE', createdTime: clock() });
    await db().getRepository(GroupBuyEventTeam).increment({ id: teamId }, 'joinedCount', 1);
  }

  it('fails an expired team: each paid order refunded once (emulator ledger), REFUNDED when it lands; robots and unpaid CANCELLED; a second run changes nothing', async () => {
    const now = clock();
    const eventId = await seedEvent(db(), now);
    const ended = await seedEvent(db(), now, { endTime: clock(-1) });
    const [a, b] = [await paidMember(1_000), await paidMember(1_200)];
    const unpaid = nextMember({ pamentStatus: 'UNPAID', status: 'WAITING_PAY' });
    const failing = await seedTeam(db(), eventId, now, { size: 5, expireTime: clock(-1), members: [a, b, unpaid] });
    await addRobot(eventId, failing);
    const open = await seedTeam(db(), eventId, now, { size: 3, expireTime: clock(10), members: [await paidMember(900)] });
    const calls = t.emulator().refundCalls;

    expect(await close()).toEqual({
      status: 'done',
      result: { teamsFailed: 1, robotOrdersCancelled: 1, unpaidOrdersCancelled: 1, paidOrdersFailedWithoutRefund: 0, refundsRequested: 2, refundsRefused: 0, eventsClosed: 1 },
    });
    expect(await team(failing)).toMatchObject({ status: 'FAILED', closedTime: expect.any(Date) });
    expect(await team(open)).toMatchObject({ status: 'OPEN' });
    expect(await db().getRepository(GroupBuyEvent).findOneByOrFail({ id: ended })).toMatchObject({ status: 'CLOSED' });
    expect(await db().getRepository(GroupBuyEvent).findOneByOrFail({ id: eventId })).toMatchObject({ status: 'OPEN' });

    const rows = await ordersOf(failing);
    const paid = rows.filter((o) => o.paymentOrderId !== null);
    expect(rows.filter((o) => o.robot === 1).map((o) => o.status)).toEqual(['CANCELLED']);
    expect(rows.filter((o) => o.pamentStatus === 'UNPAID').map((o) => o.status)).toEqual(['CANCELLED']);
    for (const o of paid) {
      const refund = await t.ended(refundNo(o.id));
      expect(refund).toMatchObject({ paymentOrderId: o.paymentOrderId, amount: refund.total, status: 'REFUNDED' });
      await t.callbacksHandled(refund.outRefundNo);
      expect(await order(o.id)).toMatchObject({ status: 'REFUNDED', pamentStatus: 'REFUNDED', refundOrderId: refund.id });
    }
    expect(t.emulator().ledger().byOrder.get(a.outTradeNo)).toBe(1_000);
    expect(t.emulator().ledger().byOrder.get(b.outTradeNo)).toBe(1_200);
    expect(t.emulator().refundCalls - calls).toBe(2);
    expect(await db().getRepository(DmsBusinessLog).countBy({ businessSource: BusinessSource.GROUP_BUY })).toBeGreaterThanOrEqual(2);

    // Again, and twice at once: nothing more is refunded or changed.
    const again = await Promise.all([close(), close()]);
    for (const r of again) expect(r).toMatchObject({ result: { teamsFailed: 0, refundsRequested: 0, refundsRefused: 0, eventsClosed: 0 } });
    expect(await db().getRepository(RefundOrder).count()).toBe(2);
    expect(t.emulator().refundCalls - calls).toBe(2);
    expect(t.emulator().ledger().byOrder.get(a.outTradeNo)).toBe(1_000);
  });

  it('a refund refused (payment unknown): the team still FAILED, the order keeps its state, an alert; refund_on_fail = 0 fails paid orders without a refund', async () => {
    const now = clock();
    const eventId = await seedEvent(db(), now);
    const orphan = nextMember({ paymentOrderId: '987654321' });
    const refused = await seedTeam(db(), eventId, now, { size: 3, expireTime: clock(-2), members: [orphan] });
    const noRefundEvent = await seedEvent(db(), now, { refundOnFail: false });
    const kept = await paidMember(700);
    const noRefund = await seedTeam(db(), noRefundEvent, now, { size: 3, expireTime: clock(-2), members: [kept] });

    expect(await close()).toMatchObject({ result: { teamsFailed: 2, paidOrdersFailedWithoutRefund: 1, refundsRequested: 0, refundsRefused: 1 } });
    expect(await team(refused)).toMatchObject({ status: 'FAILED' });
    expect((await ordersOf(refused)).map((o) => [o.status, o.pamentStatus, o.refundOrderId])).toEqual([['JOINED', 'PAY_SUCCESS', null]]);
    const alerts = t.alerts('group-buy-refund-refused');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ code: 'PAYMENT_NOT_FOUND', teamId: refused });
    expect((await ordersOf(noRefund)).map((o) => [o.status, o.pamentStatus])).toEqual([['FAILED', 'PAY_SUCCESS']]);
    expect(await db().getRepository(RefundOrder).count()).toBe(0);
    expect(t.emulator().ledger().byOrder.get(kept.outTradeNo)).toBeUndefined();
  });
  it('a run that stopped after failing a team but before its refunds: the next run requests them; teams failed beyond the horizon are left alone', async () => {
    const now = clock();
    const eventId = await seedEvent(db(), now);
    const recent = await paidMember(500);
    const old = await paidMember(600);
    const interrupted = await seedTeam(db(), eventId, now, { size: 3, expireTime: clock(-10), members: [recent] });
    const stale = await seedTeam(db(), eventId, now, { size: 3, expireTime: clock(-26 * 60), members: [old] });
    await db().getRepository(GroupBuyEventTeam).update({ id: interrupted }, { status: 'FAILED', closedTime: clock(-5) });
    await db().getRepository(GroupBuyEventTeam).update({ id: stale }, { status: 'FAILED', closedTime: clock(-25 * 60) });

    expect(await close()).toMatchObject({ result: { teamsFailed: 0, refundsRequested: 1, refundsRefused: 0 } });
    const [o] = await ordersOf(interrupted);
    const refund = await t.ended(refundNo(o?.id ?? ''));
    await t.callbacksHandled(refund.outRefundNo);
    expect(await order(o?.id ?? '')).toMatchObject({ status: 'REFUNDED', refundOrderId: refund.id });
    expect(t.emulator().ledger().byOrder.get(recent.outTradeNo)).toBe(500);
    expect((await ordersOf(stale)).map((x) => x.status)).toEqual(['JOINED']);
    expect(t.emulator().ledger().byOrder.get(old.outTradeNo)).toBeUndefined();
  });
});
