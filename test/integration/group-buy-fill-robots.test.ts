import type { QueueEvents } from 'bullmq';
import { Notify } from '../../entities/customer-service/notify.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { HubSmsTemplate } from '../../entities/hub/hub-sms-template.entity';
import { Sms } from '../../entities/customer-service/sms.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';
import { GroupBuyEventRobotRecord } from '../../entities/marketing/group-buy-event-robot-record.entity';
import { GroupBuyEventTeam } from '../../entities/marketing/group-buy-event-team.entity';
import { groupBuyCloseTeams } from '../../jobs/marketing/group-buy/group-buy-close-teams.job';
import { groupBuyFillRobots } from '../../jobs/marketing/group-buy/group-buy-fill-robots.job';
import { completeTeamIfFull } from '../../jobs/marketing/group-buy/group-buy-team-success';
import { GROUP_BUY_SUCCESS_TEMPLATE } from '../../jobs/marketing/group-buy/group-buy-team-notices';
import { enqueueOwedMessages } from '../../jobs/messaging/owed-messages';
import { auditAt } from '../../entities/dms/audit';
import { parseBeijing } from '../../lib/time';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { approveSmsTemplate, messagingEmulators } from '../support/messaging';
import { testQueueEvents } from '../support/queues';
import { until } from '../support/wait';
import { GROUP_BUY_TABLES, memberJoin, nextMember, seedEvent, seedRobots, seedTeam } from './group-buy-fixtures';

const NOW = parseBeijing('2026-11-23 10:00:00');
const MINUTE = 60_000;
const at = (minutes: number): Date => new Date(NOW.getTime() + minutes * MINUTE);

describe('group-buy team success and group-buy-fill-robots', () => {
  let hub: TestHub;
  let events: QueueEvents;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { messaging: true, now: () => NOW });
    events = await testQueueEvents('marketing', hub.prefix);
    await clearTables(hub.db, [HubSmsTemplate]);
    await approveSmsTemplate(hub, {
      templateKey: GROUP_BUY_SUCCESS_TEMPLATE, content: '您参加的${event}已拼团成功，核销码${code}', aliyunTemplateCode: 'SMS_300001', aliyunSignName: '测试签名',
      aliyunParams: { event: 'event', code: 'code' }, tencentTemplateId: '300001', tencentSignName: '测试签名', tencentParams: ['event', 'code'], enabled: 1,
    });
    hub.startWorkers(['marketing', 'sms']);
  });
  afterAll(async () => {
    await events.close();
    await clearTables(hub.db, [...GROUP_BUY_TABLES, Sms, HubSmsTemplate]);
    await hub.close();
  });
  beforeEach(() => clearTables(hub.db, [...GROUP_BUY_TABLES, Sms]));

  const fill = async (): Promise<unknown> => {
    const { id } = await hub.enqueue(groupBuyFillRobots, {});
    const job = await hub.queues.get('marketing').getJob(id);
    return job?.waitUntilFinished(events, 20_000);
  };
  const team = (id: string) => hub.db.getRepository(GroupBuyEventTeam).findOneByOrFail({ id });
  const orders = (teamId: string) => hub.db.getRepository(GroupBuyEventOrder).find({ where: { groupBuyEventTeamId: teamId }, order: { id: 'ASC' } });
  const smsTo = (phone: string) => messagingEmulators(hub).aliyun.messages.filter((m) => m.phone === phone).length + messagingEmulators(hub).tencent.messages.filter((m) => m.phone === phone).length;

  it('a team filled by members: the last join completes it, codes unique, each member told once (notifies row, one SMS)', async () => {
    const eventId = await seedEvent(hub.db, NOW, { robotEnabled: false });
    const members = [nextMember(), nextMember()];
    const teamId = await seedTeam(hub.db, eventId, NOW, { size: 3, expireTime: at(120), members });
    const last = nextMember();
    const joined = await memberJoin(hub.db, teamId, last, NOW, hub.log);
    expect(joined.joined).toBe(true);
    expect(joined.success).toMatchObject({ completed: true, memberOrders: 3, robotOrders: 0 });
    await enqueueOwedMessages({ enqueue: hub.enqueue, log: hub.log }, joined.success?.messages ?? []);

    expect(await team(teamId)).toMatchObject({ status: 'SUCCESS', joinedCount: 3, successTime: NOW });
    const rows = await orders(teamId);
    expect(rows.map((o) => o.status)).toEqual(['SUCCESS', 'SUCCESS', 'SUCCESS']);
    expect(rows.every((o) => /^\d{12}$/.test(o.code ?? ''))).toBe(true);
    expect(new Set(rows.map((o) => o.code)).size).toBe(3);
    const keys = rows.map((o) => `group-buy-success-${o.id}`).sort();
    expect((await hub.db.getRepository(HubMessageDelivery).find()).map((d) => d.deliveryKey).sort()).toEqual(keys);
    expect((await hub.db.getRepository(Notify).find()).map((n) => [n.notifyId, n.type]).sort()).toEqual(keys.map((k) => [k, 1]));
    for (const m of [...members, last]) await until(`sms to ${m.mobile ?? ''}`, () => smsTo(m.mobile ?? '') === 1, 15_000);

    // Completing it again (a second caller, a retry) changes and owes nothing.
    const again = await hub.db.transaction((m) => completeTeamIfFull(m, teamId, NOW, { log: hub.log, audit: auditAt(() => NOW) }));
    expect(again).toMatchObject({ completed: false, messages: [] });
    expect(await memberJoin(hub.db, teamId, nextMember(), NOW, hub.log)).toEqual({ joined: false, success: null });
    expect(await hub.db.getRepository(HubMessageDelivery).count()).toBe(3);
    await until('sms deliveries settled', async () => (await hub.db.getRepository(HubMessageDelivery).countBy({ status: 'SENT' })) === 3, 15_000);
    for (const m of [...members, last]) expect(smsTo(m.mobile ?? '')).toBe(1);
  });

  it('robots complete teams in the window only: never the same robot twice, never leader; members told once; a second run changes nothing', async () => {
    await seedRobots(hub.db, 2, NOW);
    const eventId = await seedEvent(hub.db, NOW, { windowMinutes: 30, maxRobots: 2 });
    const offEvent = await seedEvent(hub.db, NOW, { robotEnabled: false });
    const leader = nextMember();
    const filled = await seedTeam(hub.db, eventId, NOW, { size: 3, expireTime: at(10), members: [leader] });
    const early = await seedTeam(hub.db, eventId, NOW, { size: 3, expireTime: at(31), members: [nextMember()] });
    const tooMany = await seedTeam(hub.db, eventId, NOW, { size: 4, expireTime: at(10), members: [nextMember()] });
    const expired = await seedTeam(hub.db, eventId, NOW, { size: 3, expireTime: NOW, members: [nextMember()] });
    const disabled = await seedTeam(hub.db, offEvent, NOW, { size: 3, expireTime: at(10), members: [nextMember()] });
    // A team robot 1 already sits in: only robot 2 may join it.
    const second = nextMember();
    const withRobot = await seedTeam(hub.db, eventId, NOW, { size: 3, expireTime: at(5), members: [second] });
    const [firstRobot] = await hub.db.query<{ id: string }[]>('SELECT id FROM group_buy_event_robot ORDER BY id LIMIT 1');
    const robotOrder = await hub.db.getRepository(GroupBuyEventOrder).insert({ groupBuyEventId: eventId, groupBuyEventTeamId: withRobot, status: 'JOINED', pamentStatus: 'NONE', robot: 1, teamLeader: 0, createdTime: NOW });
    await hub.db.getRepository(GroupBuyEventRobotRecord).insert({ groupBuyEventId: eventId, groupBuyEventTeamId: withRobot, robotId: String(firstRobot?.id), groupBuyEventOrderId: String((robotOrder.identifiers[0] as { id: string }).id), createdTime: NOW });
    await hub.db.getRepository(GroupBuyEventTeam).update({ id: withRobot }, { joinedCount: 2, robotCount: 1 });

    expect(await fill()).toEqual({ status: 'done', result: { teamsFilled: 2, robotsAdded: 3, teamsCompleted: 2, skipped: 0, messagesEnqueued: 2 } });
    for (const id of [early, tooMany, expired, disabled]) expect(await team(id)).toMatchObject({ status: 'OPEN', robotCount: 0 });
    expect(await team(filled)).toMatchObject({ status: 'SUCCESS', joinedCount: 3, robotCount: 2 });
    expect(await team(withRobot)).toMatchObject({ status: 'SUCCESS', joinedCount: 3, robotCount: 2 });
    for (const id of [filled, withRobot]) {
      const rows = await orders(id);
      expect(rows).toHaveLength(3);
      expect(rows.every((o) => o.status === 'SUCCESS' && /^\d{12}$/.test(o.code ?? ''))).toBe(true);
      const robots = rows.filter((o) => o.robot === 1);
      expect(robots.every((o) => o.teamLeader === 0 && o.pamentStatus === 'NONE' && o.memberId === null)).toBe(true);
      const records = await hub.db.getRepository(GroupBuyEventRobotRecord).findBy({ groupBuyEventTeamId: id });
      expect(records).toHaveLength(2);
      expect(new Set(records.map((r) => r.robotId)).size).toBe(2);
    }
    const realOrders = [...(await orders(filled)), ...(await orders(withRobot))].filter((o) => o.robot === 0);
    const keys = realOrders.map((o) => `group-buy-success-${o.id}`).sort();
    expect((await hub.db.getRepository(HubMessageDelivery).find()).map((d) => d.deliveryKey).sort()).toEqual(keys);
    expect((await hub.db.getRepository(Notify).find()).map((n) => n.notifyId).sort()).toEqual(keys);

    expect(await fill()).toEqual({ status: 'done', result: { teamsFilled: 0, robotsAdded: 0, teamsCompleted: 0, skipped: 0, messagesEnqueued: 0 } });
    expect(await hub.db.getRepository(GroupBuyEventOrder).countBy({ robot: 1 })).toBe(4);
    for (const m of [leader, second]) await until(`sms to ${m.mobile ?? ''}`, () => smsTo(m.mobile ?? '') === 1, 15_000);
    await until('deliveries sent', async () => (await hub.db.getRepository(HubMessageDelivery).countBy({ status: 'SENT' })) === 2, 15_000);
    expect(await hub.db.getRepository(HubMessageDelivery).count()).toBe(2);
  });

  it('a team the pool cannot complete is left untouched', async () => {
    await seedRobots(hub.db, 1, NOW);
    const eventId = await seedEvent(hub.db, NOW, { maxRobots: 2 });
    const teamId = await seedTeam(hub.db, eventId, NOW, { size: 3, expireTime: at(10), members: [nextMember()] });
    expect(await fill()).toMatchObject({ result: { teamsFilled: 0, skipped: 1 } });
    expect(await team(teamId)).toMatchObject({ status: 'OPEN', joinedCount: 1, robotCount: 0 });
    expect(await orders(teamId)).toHaveLength(1);
  });
  /** Transactions of this test's database waiting for a row lock. */
  const lockWaits = async (): Promise<number> => {
    const [row] = await hub.db.query<{ n: string | number }[]>(
      "SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX x JOIN information_schema.PROCESSLIST p ON p.ID = x.trx_mysql_thread_id WHERE x.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()",
    );
    return Number(row?.n ?? 0);
  };

  it('a member joining while robots fill: the job waits for the member\'s lock, then finds the team full and adds no robot', async () => {
    await seedRobots(hub.db, 3, NOW);
    const eventId = await seedEvent(hub.db, NOW, { maxRobots: 2 });
    const teamId = await seedTeam(hub.db, eventId, NOW, { size: 3, expireTime: at(10), members: [nextMember(), nextMember()] });
    let jobId = '';
    const joined = await memberJoin(hub.db, teamId, nextMember(), NOW, hub.log, async () => {
      jobId = (await hub.enqueue(groupBuyFillRobots, {})).id;
      // information_schema caches INNODB_TRX for 0.1 s: polled faster, it may never refresh.
      await until('the job waits for the team lock', async () => (await lockWaits()) > 0, 15_000, 250);
    });
    expect(joined).toMatchObject({ joined: true, success: { completed: true, memberOrders: 3 } });
    const result = await (await hub.queues.get('marketing').getJob(jobId))?.waitUntilFinished(events, 20_000);
    expect(result).toEqual({ status: 'done', result: { teamsFilled: 0, robotsAdded: 0, teamsCompleted: 0, skipped: 1, messagesEnqueued: 0 } });
    expect(await team(teamId)).toMatchObject({ status: 'SUCCESS', joinedCount: 3, robotCount: 0 });
    expect((await orders(teamId)).map((o) => [o.robot, o.status])).toEqual([[0, 'SUCCESS'], [0, 'SUCCESS'], [0, 'SUCCESS']]);
  });

  it('members and robots racing for the last place of 20 teams: each team ends with exactly its size, one way or the other', async () => {
    await seedRobots(hub.db, 3, NOW);
    const eventId = await seedEvent(hub.db, NOW, { maxRobots: 2 });
    const teams: string[] = [];
    for (let i = 0; i < 20; i += 1) teams.push(await seedTeam(hub.db, eventId, NOW, { size: 3, expireTime: at(10), members: [nextMember(), nextMember()] }));
    const racing = fill();
    const joins = await Promise.all(teams.map((id) => memberJoin(hub.db, id, nextMember(), NOW, hub.log)));
    const job = await racing;
    const membersJoined = joins.filter((j) => j.joined).length;
    const { result } = job as { result: { robotsAdded: number; teamsCompleted: number } };
    expect(result.robotsAdded + membersJoined).toBe(20);
    for (const id of teams) {
      const t = await team(id);
      const rows = await orders(id);
      expect(t).toMatchObject({ status: 'SUCCESS', joinedCount: 3 });
      expect(rows).toHaveLength(3);
      expect(rows.filter((o) => o.robot === 1)).toHaveLength(t.robotCount);
      expect(rows.every((o) => o.status === 'SUCCESS')).toBe(true);
    }
    expect(await hub.db.getRepository(HubMessageDelivery).count()).toBe(40 + membersJoined);
  });
  it('close-teams at the boundary: a team expiring exactly now fails (robots stop filling it at the same instant); one a second later stays open', async () => {
    await seedRobots(hub.db, 2, NOW);
    const eventId = await seedEvent(hub.db, NOW, { maxRobots: 2 });
    const due = await seedTeam(hub.db, eventId, NOW, { size: 3, expireTime: NOW, members: [nextMember({ pamentStatus: 'UNPAID', status: 'WAITING_PAY' })] });
    const later = await seedTeam(hub.db, eventId, NOW, { size: 3, expireTime: new Date(NOW.getTime() + 1_000), members: [nextMember()] });
    const { id } = await hub.enqueue(groupBuyCloseTeams, {});
    const result = await (await hub.queues.get('marketing').getJob(id))?.waitUntilFinished(events, 20_000);
    expect(result).toMatchObject({ result: { teamsFailed: 1, unpaidOrdersCancelled: 1, refundsRequested: 0 } });
    expect(await team(due)).toMatchObject({ status: 'FAILED', closedTime: NOW });
    expect((await orders(due)).map((o) => o.status)).toEqual(['CANCELLED']);
    expect(await team(later)).toMatchObject({ status: 'OPEN' });
    expect(await fill()).toMatchObject({ result: { teamsFilled: 1 } });
    expect(await team(later)).toMatchObject({ status: 'SUCCESS', robotCount: 2 });
  });
  it('close-teams walks many teams with equal expiry times in small batches and fails each once', async () => {
    const eventId = await seedEvent(hub.db, NOW, { robotEnabled: false });
    const ids: string[] = [];
    for (let i = 0; i < 7; i += 1) ids.push(await seedTeam(hub.db, eventId, NOW, { size: 3, expireTime: new Date(NOW.getTime() - (i % 2) * 1_000), members: [nextMember({ pamentStatus: 'UNPAID' })] }));
    const { id } = await hub.enqueue(groupBuyCloseTeams, { batchSize: 2 });
    const result = await (await hub.queues.get('marketing').getJob(id))?.waitUntilFinished(events, 20_000);
    expect(result).toMatchObject({ result: { teamsFailed: 7, unpaidOrdersCancelled: 7 } });
    for (const teamId of ids) expect(await team(teamId)).toMatchObject({ status: 'FAILED' });
  });
});
