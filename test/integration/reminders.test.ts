import type { QueueEvents } from 'bullmq';
import { Sms } from '../../entities/customer-service/sms.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { HubSmsTemplate } from '../../entities/hub/hub-sms-template.entity';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { EventSession } from '../../entities/marketing/event-session.entity';
import { MarketingEvent } from '../../entities/marketing/event.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';
import { GroupBuyEvent } from '../../entities/marketing/group-buy-event.entity';
import { Member } from '../../entities/marketing/member.entity';
import type { AliyunSmsEmulator } from '../../integrations/sms/emulator/aliyun-sms.emulator';
import { buildRegistry, type JobDefinition } from '../../jobs/define-job';
import { eventRemindSessions } from '../../jobs/marketing/remind/event-remind-sessions.job';
import { groupBuyRemind } from '../../jobs/marketing/remind/group-buy-remind.job';
import { deliveryJobId } from '../../jobs/messaging/delivery';
import { smsSend } from '../../jobs/messaging/sms-send.job';
import { parseBeijing } from '../../lib/time';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { approveSmsTemplate, messagingEmulators } from '../support/messaging';
import { testQueueEvents } from '../support/queues';

/** Reminders owed through real workers, the delivery rows and the SMS emulators' ledgers. */

// Midnight in Beijing is 16:00 UTC the day before: a driver off by the offset misses every boundary.
const NOW = parseBeijing('2026-11-24 00:00:00');
const HOUR = 3_600_000;
const at = (offsetMs: number): Date => new Date(NOW.getTime() + offsetMs);
const TABLES = [GroupBuyEvent, GroupBuyEventOrder, MarketingEvent, EventSession, EventOrder, Member, HubMessageDelivery, Sms];
const EVENT_TEMPLATE = '9001';

interface Counts {
  recorded: number;
  withoutPhone: number;
}
type Result<R> = { status: 'done'; result: R } | { status: 'skipped'; reason: string };

describe('reminders', () => {
  let hub: TestHub;
  let marketing: QueueEvents;
  let smsEvents: QueueEvents;
  let aliyun: AliyunSmsEmulator;
  let phoneSeq = 0;
  const phone = (): string => `137${String((phoneSeq += 1)).padStart(8, '0')}`;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { messaging: true, now: () => NOW, registry: buildRegistry([groupBuyRemind, eventRemindSessions, smsSend]) });
    await clearTables(hub.db, [...TABLES, HubSmsTemplate]);
    ({ aliyun } = messagingEmulators(hub));
    const vendor = { aliyunSignName: '测试签名', tencentSignName: '测试签名', enabled: 1 };
    await approveSmsTemplate(hub, {
      ...vendor, templateKey: 'group-buy-remind', content: '【拼课团】${eventName}将于${endTime}结束',
      aliyunTemplateCode: 'SMS_400001', aliyunParams: { name: 'eventName', time: 'endTime' }, tencentTemplateId: '400001', tencentParams: ['eventName', 'endTime'],
    });
    await approveSmsTemplate(hub, {
      ...vendor, templateKey: EVENT_TEMPLATE, content: '【活动】${eventName}将于${startTime}开始',
      aliyunTemplateCode: 'SMS_400002', aliyunParams: { name: 'eventName', time: 'startTime' }, tencentTemplateId: '400002', tencentParams: ['eventName', 'startTime'],
    });
    marketing = await testQueueEvents('marketing', hub.prefix);
    smsEvents = await testQueueEvents('sms', hub.prefix);
    hub.startWorkers(['marketing', 'sms']);
  });
  afterAll(async () => {
    await marketing.close();
    await smsEvents.close();
    await clearTables(hub.db, [...TABLES, HubSmsTemplate]);
    await hub.close();
  });
  beforeEach(() => clearTables(hub.db, TABLES));
  // A send still running would write its delivery row again after the next test's clearing.
  afterEach(() => drainSms());

  async function run<R>(def: JobDefinition, payload: object = {}): Promise<Result<R>> {
    const { id } = await hub.enqueue(def, payload);
    const job = await hub.queues.get('marketing').getJob(id);
    return (await job?.waitUntilFinished(marketing, 20_000)) as Result<R>;
  }
  const counts = <R>(r: Result<R>): R => {
    if (r.status !== 'done') throw new Error(`expected done, got skipped: ${r.reason}`);
    return r.result;
  };
  const keys = async (): Promise<string[]> => (await hub.db.getRepository(HubMessageDelivery).find()).map((d) => d.deliveryKey).sort();
  /** Waits until every owed SMS job has finished, so the emulator's ledger is complete. */
  async function drainSms(): Promise<void> {
    for (const d of await hub.db.getRepository(HubMessageDelivery).find()) {
      const job = await hub.queues.get('sms').getJob(deliveryJobId(d.deliveryKey));
      await job?.waitUntilFinished(smsEvents, 20_000);
    }
  }
  const ledger = (to: string) => aliyun.messages.filter((m) => m.phone.endsWith(to));

  const groupBuy = async (o: Partial<GroupBuyEvent>): Promise<string> =>
    (await hub.db.getRepository(GroupBuyEvent).save({ titile: '周末拼课', status: 'OPEN', enable: 1, deleted: 0, beginTime: at(-48 * HOUR), endTime: at(48 * HOUR), ...o })).id;
  const gbOrder = async (eventId: string, o: Partial<GroupBuyEventOrder> = {}): Promise<{ id: string; phone: string }> => {
    const mobile = phone();
    const row = await hub.db.getRepository(GroupBuyEventOrder).save({ groupBuyEventId: eventId, memberMobile: mobile, robot: 0, status: 'JOINED', pamentStatus: 'PAY_SUCCESS', ...o });
    return { id: row.id, phone: mobile };
  };
  const gbKey = (eventId: string, orderId: string): string => `group-buy-remind-${eventId}-${orderId}`;

  describe('group-buy-remind', () => {
    it('reminds at begin_time + remind_hours or end_time − remind_hours, within the catch-up window, before the end', async () => {
      const due = [
        await groupBuy({ remindTimeType: 'END', remindHours: 2, endTime: at(2 * HOUR) }), // due exactly now
        await groupBuy({ remindTimeType: 'BEGIN', remindHours: 3, beginTime: at(-3 * HOUR) }),
        await groupBuy({ remindTimeType: 'END', remindHours: 30, endTime: at(6 * HOUR + 1_000) }), // 24 h less a second late
      ];
      const notDue = [
        await groupBuy({ remindTimeType: 'END', remindHours: 2, endTime: at(2 * HOUR + 1_000) }), // a second early
        await groupBuy({ remindTimeType: 'END', remindHours: 30, endTime: at(6 * HOUR) }), // exactly 24 h late
        await groupBuy({ remindTimeType: 'BEGIN', remindHours: 1, beginTime: at(-3 * HOUR), endTime: NOW }), // ended
        await groupBuy({ remindTimeType: 'BEGIN', remindHours: 1, beginTime: at(-3 * HOUR), enable: 0 }),
        await groupBuy({ remindTimeType: 'BEGIN', remindHours: 1, beginTime: at(-3 * HOUR), status: 'CLOSED' }),
        await groupBuy({ remindTimeType: null, remindHours: 1 }),
      ];
      const orders = new Map<string, string>();
      for (const e of [...due, ...notDue]) orders.set(e, (await gbOrder(e)).id);
      expect(counts(await run<Counts & { events: number }>(groupBuyRemind))).toEqual({ events: 3, recorded: 3, withoutPhone: 0 });
      expect(await keys()).toEqual(due.map((e) => gbKey(e, orders.get(e) ?? '')).sort());
    });

    it('reminds paid or free real members only; a member without an order mobile is reached through member.mobile', async () => {
      const e = await groupBuy({ remindTimeType: 'END', remindHours: 2, endTime: at(HOUR) });
      const member = await hub.db.getRepository(Member).save({ mobile: '13600000001', deleted: 0 });
      const reminded = [
        await gbOrder(e),
        await gbOrder(e, { status: 'SUCCESS' }),
        await gbOrder(e, { pamentStatus: 'NONE' }),
        { ...(await gbOrder(e, { memberMobile: null, memberId: member.id })), phone: '13600000001' },
      ];
      for (const o of [{ robot: 1, pamentStatus: 'NONE' as const }, { status: 'WAITING_PAY' as const, pamentStatus: 'UNPAID' as const }, { status: 'REFUNDED' as const }, { status: 'CANCELLED' as const }, { status: 'FAILED' as const }]) {
        await gbOrder(e, o);
      }
      await gbOrder(e, { memberMobile: '12345' }); // no usable number: counted, not owed
      expect(counts(await run<Counts>(groupBuyRemind))).toMatchObject({ recorded: 4, withoutPhone: 1 });
      expect(await keys()).toEqual(reminded.map((o) => gbKey(e, o.id)).sort());
      await drainSms();
      for (const o of reminded) expect(ledger(o.phone)).toHaveLength(1);
      expect(ledger(reminded[0]?.phone ?? '')[0]).toMatchObject({ template: 'SMS_400001', sign: '测试签名' });
    });

    it('reminds each order once when run again, and when run twice at once; later and later-paid orders are reminded by the next run', async () => {
      const e = await groupBuy({ remindTimeType: 'BEGIN', remindHours: 1, beginTime: at(-2 * HOUR) });
      const first = await Promise.all(Array.from({ length: 30 }, () => gbOrder(e)));
      const unpaid = await gbOrder(e, { status: 'WAITING_PAY', pamentStatus: 'UNPAID' });
      const both = await Promise.all([run<Counts>(groupBuyRemind, { batchSize: 7 }), run<Counts>(groupBuyRemind, { batchSize: 5 })]);
      expect(both.map((r) => counts(r).recorded).reduce((a, b) => a + b, 0)).toBe(30);
      expect(counts(await run<Counts>(groupBuyRemind))).toMatchObject({ recorded: 0 });
      const late = await gbOrder(e);
      await hub.db.getRepository(GroupBuyEventOrder).update(unpaid.id, { status: 'JOINED', pamentStatus: 'PAY_SUCCESS' });
      expect(counts(await run<Counts>(groupBuyRemind))).toMatchObject({ recorded: 2 });
      expect(counts(await run<Counts>(groupBuyRemind))).toMatchObject({ recorded: 0 });
      expect(await keys()).toEqual([...first, unpaid, late].map((o) => gbKey(e, o.id)).sort());
      await drainSms();
      for (const o of [...first, unpaid, late]) expect(ledger(o.phone)).toHaveLength(1);
      expect(await hub.db.getRepository(HubMessageDelivery).countBy({ status: 'SENT' })).toBe(32);
    });

    it('a missing template holds every reminder back with the reason; they go out once it exists', async () => {
      const e = await groupBuy({ remindTimeType: 'END', remindHours: 2, endTime: at(HOUR) });
      await gbOrder(e);
      const result = await run(groupBuyRemind, { templateKey: 'no-such-template' });
      expect(result).toEqual({ status: 'skipped', reason: expect.stringMatching(/no-such-template.*UNKNOWN_TEMPLATE/) });
      expect(await keys()).toEqual([]);
      expect(counts(await run<Counts>(groupBuyRemind))).toMatchObject({ recorded: 1 });
    });
  });

  const event = async (smsTemplateId: string | null): Promise<string> => (await hub.db.getRepository(MarketingEvent).save({ name: '亲子活动', smsTemplateId, deleted: 0 })).id;
  const session = async (eventId: string, startTime: Date): Promise<string> => (await hub.db.getRepository(EventSession).save({ eventId, startTime, deleted: 0 })).id;
  const evOrder = async (sessionId: string, o: Partial<EventOrder> = {}): Promise<{ id: string; phone: string }> => {
    const mobile = phone();
    const row = await hub.db.getRepository(EventOrder).save({ sessionId, mobile, status: 'JOINED', pamentStatus: 'PAY_SUCCESS', deleted: 0, ...o });
    return { id: row.id, phone: mobile };
  };
  const evKey = (sessionId: string, orderId: string): string => `event-remind-${sessionId}-${orderId}`;
  type SessionCounts = Counts & { sessions: number; skippedSessions: number; skipped: { sessionId: string; reason: string }[] };

  describe('event-remind-sessions', () => {
    it('reminds orders of sessions starting within the lead, with the event template; started sessions are too late', async () => {
      const ev = await event(EVENT_TEMPLATE);
      const edge = await session(ev, at(24 * HOUR)); // exactly the lead away
      const soon = await session(ev, at(1_000));
      const beyond = await session(ev, at(24 * HOUR + 1_000));
      const started = await session(ev, NOW);
      const reminded = [await evOrder(edge), await evOrder(soon), await evOrder(soon, { status: 'SUCCESS', pamentStatus: 'NONE' })];
      for (const o of [{ status: 'WAITING_PAY' as const, pamentStatus: 'UNPAID' as const }, { status: 'CANCELLED' as const }, { status: 'REFUNDED' as const }, { deleted: 1 }]) await evOrder(soon, o);
      await evOrder(beyond);
      await evOrder(started);
      const result = counts(await run<SessionCounts>(eventRemindSessions));
      expect(result).toMatchObject({ sessions: 2, recorded: 3, skippedSessions: 0 });
      expect(await keys()).toEqual([evKey(edge, reminded[0]?.id ?? ''), evKey(soon, reminded[1]?.id ?? ''), evKey(soon, reminded[2]?.id ?? '')].sort());
      await drainSms();
      for (const o of reminded) expect(ledger(o.phone)).toHaveLength(1);
      expect(ledger(reminded[1]?.phone ?? '')[0]).toMatchObject({ template: 'SMS_400002' });
      expect(JSON.stringify(ledger(reminded[1]?.phone ?? '')[0]?.params)).toContain('2026-11-24 00:00');
    });

    it('once per order: twice at once, then again after an order is paid', async () => {
      const s = await session(await event(EVENT_TEMPLATE), at(3 * HOUR));
      const orders = await Promise.all(Array.from({ length: 25 }, () => evOrder(s)));
      const unpaid = await evOrder(s, { status: 'WAITING_PAY', pamentStatus: 'UNPAID' });
      const both = await Promise.all([run<SessionCounts>(eventRemindSessions, { batchSize: 4 }), run<SessionCounts>(eventRemindSessions, { batchSize: 6 })]);
      expect(both.map((r) => counts(r).recorded).reduce((a, b) => a + b, 0)).toBe(25);
      await hub.db.getRepository(EventOrder).update(unpaid.id, { status: 'JOINED', pamentStatus: 'PAY_SUCCESS' });
      expect(counts(await run<SessionCounts>(eventRemindSessions))).toMatchObject({ recorded: 1 });
      expect(counts(await run<SessionCounts>(eventRemindSessions))).toMatchObject({ recorded: 0 });
      await drainSms();
      for (const o of [...orders, unpaid]) expect(ledger(o.phone)).toHaveLength(1);
      expect(await hub.db.getRepository(HubMessageDelivery).countBy({ status: 'SENT' })).toBe(26);
    });

    it('skips sessions whose event names no template or an unknown one, with the reason, and still reminds the others', async () => {
      const none = await session(await event(null), at(HOUR));
      const unknown = await session(await event('424242'), at(HOUR));
      const fine = await session(await event(EVENT_TEMPLATE), at(HOUR));
      await evOrder(none);
      await evOrder(unknown);
      const ok = await evOrder(fine);
      const result = counts(await run<SessionCounts>(eventRemindSessions));
      expect(result).toMatchObject({ sessions: 3, recorded: 1, skippedSessions: 2 });
      expect(result.skipped).toEqual(
        expect.arrayContaining([
          { sessionId: none, reason: 'the event names no sms_template_id' },
          { sessionId: unknown, reason: expect.stringMatching(/UNKNOWN_TEMPLATE/) },
        ]),
      );
      expect(await keys()).toEqual([evKey(fine, ok.id)]);
    });
  });
});
