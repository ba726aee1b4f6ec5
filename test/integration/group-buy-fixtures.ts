import type { DataSource, EntityManager } from 'typeorm';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { Notify } from '../../entities/customer-service/notify.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { GroupBuyEvent } from '../../entities/marketing/group-buy-event.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';
import { GroupBuyEventRobotRecord } from '../../entities/marketing/group-buy-event-robot-record.entity';
import { GroupBuyEventRobot } from '../../entities/marketing/group-buy-event-robot.entity';
import { GroupBuyEventRule } from '../../entities/marketing/group-buy-event-rule.entity';
import { GroupBuyEventTeam } from '../../entities/marketing/group-buy-event-team.entity';
import type { PayStatus } from '../../entities/marketing/payment-order.entity';
import { completeTeamIfFull, type TeamSuccess } from '../../jobs/marketing/group-buy/group-buy-team-success';
import { auditAt } from '../../entities/dms/audit';
import type { Logger } from '../../lib/logger';

/** Group-buy tables the tests write, in an order that empties them. */
export const GROUP_BUY_TABLES = [GroupBuyEventRobotRecord, GroupBuyEventOrder, GroupBuyEventTeam, GroupBuyEventRule, GroupBuyEventRobot, GroupBuyEvent, Notify, HubMessageDelivery, DmsBusinessLog];

const MINUTE = 60_000;

export interface EventSpec {
  robotEnabled?: boolean;
  windowMinutes?: number;
  maxRobots?: number;
  refundOnFail?: boolean;
  endTime?: Date;
  status?: GroupBuyEvent['status'];
}

export async function seedEvent(db: DataSource, now: Date, spec: EventSpec = {}): Promise<string> {
  const event = await db.getRepository(GroupBuyEvent).insert({
    titile: '周末陶艺课', enable: 1, status: spec.status ?? 'OPEN', price: 9_900, beginTime: new Date(now.getTime() - 24 * 60 * MINUTE), endTime: spec.endTime ?? new Date(now.getTime() + 7 * 24 * 60 * MINUTE), createdTime: now, updatedTime: now,
  });
  const eventId = String((event.identifiers[0] as { id: string }).id);
  await db.getRepository(GroupBuyEventRule).insert({
    groupBuyEventId: eventId, teamSize: 3, robotEnabled: spec.robotEnabled === false ? 0 : 1, robotFillMinutesBeforeExpire: spec.windowMinutes ?? 30, maxRobotsPerTeam: spec.maxRobots ?? 2, refundOnFail: spec.refundOnFail === false ? 0 : 1, createdTime: now, updatedTime: now,
  });
  return eventId;
}

export async function seedRobots(db: DataSource, count: number, now: Date): Promise<void> {
  const rows = Array.from({ length: count }, (_, i) => ({ name: `robot-${i + 1}`, headUrl: `https://img.example/r${i + 1}.png`, enabled: 1, createdTime: now, updatedTime: now }));
  await db.getRepository(GroupBuyEventRobot).insert(rows);
}

export interface MemberSpec {
  memberId: string;
  mobile?: string | null;
  pamentStatus?: PayStatus;
  paymentOrderId?: string | null;
  status?: GroupBuyEventOrder['status'];
}

let memberSeq = 0;
export const nextMember = (over: Partial<MemberSpec> = {}): MemberSpec => {
  memberSeq += 1;
  return { memberId: String(10_000 + memberSeq), mobile: `1380000${String(memberSeq % 10_000).padStart(4, '0')}`, ...over };
};

/** A member's order row as the marketing system writes it on joining (paid, JOINED unless said). */
export function memberOrder(eventId: string, teamId: string, m: MemberSpec, leader: boolean, now: Date): Partial<GroupBuyEventOrder> {
  return {
    groupBuyEventId: eventId, groupBuyEventName: '周末陶艺课', groupBuyEventTeamId: teamId, memberId: m.memberId, memberMobile: m.mobile ?? null, memberName: `member ${m.memberId}`,
    status: m.status ?? 'JOINED', pamentStatus: m.pamentStatus ?? 'PAY_SUCCESS', paymentOrderId: m.paymentOrderId ?? null, robot: 0, teamLeader: leader ? 1 : 0, chargedAmount: 9_900, createdTime: now, updatedTime: now,
  };
}

/** A team whose members (the first one leads) have joined; `joined_count` counts them. */
export async function seedTeam(db: DataSource, eventId: string, now: Date, spec: { size: number; expireTime: Date; members: MemberSpec[] }): Promise<string> {
  const team = await db.getRepository(GroupBuyEventTeam).insert({
    groupBuyEventId: eventId, size: spec.size, joinedCount: spec.members.length, robotCount: 0, status: 'OPEN', expireTime: spec.expireTime, leaderMemberId: spec.members[0]?.memberId ?? null, createdTime: now, updatedTime: now,
  });
  const teamId = String((team.identifiers[0] as { id: string }).id);
  for (const [i, m] of spec.members.entries()) await db.getRepository(GroupBuyEventOrder).insert(memberOrder(eventId, teamId, m, i === 0, now));
  return teamId;
}

/**
 * The marketing system's join, as the hub expects it: lock the team, refuse when full, take the
 * place, then complete the team in the same transaction. `hold` runs before commit (to keep the lock).
 */
export async function memberJoin(db: DataSource, teamId: string, m: MemberSpec, now: Date, log: Logger, hold?: () => Promise<void>): Promise<{ joined: boolean; success: TeamSuccess | null }> {
  return db.transaction(async (tx: EntityManager) => {
    const team = await tx.createQueryBuilder(GroupBuyEventTeam, 't').setLock('pessimistic_write').where('t.id = :teamId', { teamId }).getOneOrFail();
    if (hold) await hold();
    if (team.status !== 'OPEN' || team.joinedCount >= team.size) return { joined: false, success: null };
    await tx.insert(GroupBuyEventOrder, memberOrder(team.groupBuyEventId, teamId, m, false, now));
    await tx.createQueryBuilder().update(GroupBuyEventTeam).set({ joinedCount: () => 'joined_count + 1' }).where('id = :teamId', { teamId }).execute();
    const success = await completeTeamIfFull(tx, teamId, now, { log, audit: auditAt(() => now) });
    return { joined: true, success };
  });
}
