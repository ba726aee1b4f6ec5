import type { EntityManager } from 'typeorm';
import { GroupBuyEvent } from '../../../entities/marketing/group-buy-event.entity';
import { GroupBuyEventOrder } from '../../../entities/marketing/group-buy-event-order.entity';
import { GroupBuyEventRobotRecord } from '../../../entities/marketing/group-buy-event-robot-record.entity';
import { GroupBuyEventRobot } from '../../../entities/marketing/group-buy-event-robot.entity';
import { GroupBuyEventRule } from '../../../entities/marketing/group-buy-event-rule.entity';
import { GroupBuyEventTeam } from '../../../entities/marketing/group-buy-event-team.entity';
import type { JobContext } from '../../context';
import { nextTeamPage, type TeamCursor, type TeamPage } from './group-buy-team-walk';
import { completeTeamIfFull, type TeamSuccess } from './group-buy-team-success';

const MINUTE = 60_000;

/** The widest robot window of any rule allowing robots, in minutes; null when no rule does. */
export async function widestRobotWindow(ctx: Pick<JobContext, 'db'>): Promise<number | null> {
  const row = await ctx.db
    .createQueryBuilder(GroupBuyEventRule, 'r')
    .select('MAX(r.robot_fill_minutes_before_expire)', 'minutes')
    .where('r.robot_enabled = 1 AND r.deleted = 0')
    .getRawOne<{ minutes: number | string | null }>();
  return row?.minutes === null || row?.minutes === undefined ? null : Number(row.minutes);
}

/**
 * Teams robots may complete now: OPEN, of an enabled OPEN event whose rule allows robots, expiring
 * within the rule's window but not yet expired, missing between 1 and `max_robots_per_team`.
 * Walked in (expire_time, id) order within the widest window, along the (status, expire_time)
 * index, so a run reads the teams near expiry only. Read without locks: each team is checked again
 * under its lock before anything is written.
 */
export function fillCandidates(ctx: Pick<JobContext, 'db'>, now: Date, windowMinutes: number, after: TeamCursor | null, limit: number): Promise<TeamPage> {
  const q = ctx.db
    .createQueryBuilder(GroupBuyEventTeam, 't')
    .innerJoin(GroupBuyEvent, 'e', 'e.id = t.group_buy_event_id')
    .where("t.status = 'OPEN' AND t.expire_time > :now AND t.expire_time <= :until AND t.deleted = 0", { now, until: new Date(now.getTime() + windowMinutes * MINUTE) })
    .andWhere("e.enable = 1 AND e.status = 'OPEN' AND COALESCE(e.deleted, 0) = 0")
    .andWhere((qb) => {
      const rule = qb
        .subQuery()
        .select('1')
        .from(GroupBuyEventRule, 'r')
        .where('r.group_buy_event_id = t.group_buy_event_id AND r.deleted = 0 AND r.robot_enabled = 1')
        .andWhere('t.expire_time <= :now + INTERVAL r.robot_fill_minutes_before_expire MINUTE AND t.size - t.joined_count BETWEEN 1 AND r.max_robots_per_team')
        .getQuery();
      return `EXISTS ${rule}`;
    });
  return nextTeamPage(q, 'expire_time', after, limit);
}

export type FillOutcome = { kind: 'filled'; robots: number; success: TeamSuccess } | { kind: 'skipped'; reason: string };

async function ruleOf(m: EntityManager, eventId: string): Promise<GroupBuyEventRule | null> {
  return m.createQueryBuilder(GroupBuyEventRule, 'r').where('r.group_buy_event_id = :eventId AND r.deleted = 0', { eventId }).orderBy('r.id', 'DESC').getOne();
}

/** Robots of the pool (the team's organization's, or shared ones) not yet in this team, in random order. */
async function pickRobots(m: EntityManager, team: GroupBuyEventTeam, count: number): Promise<GroupBuyEventRobot[]> {
  return m
    .createQueryBuilder(GroupBuyEventRobot, 'b')
    .where('b.enabled = 1 AND b.deleted = 0 AND (b.organization_id IS NULL OR b.organization_id <=> :org)', { org: team.organizationId })
    .andWhere((qb) => {
      const inTeam = qb.subQuery().select('1').from(GroupBuyEventRobotRecord, 'rr').where('rr.group_buy_event_team_id = :teamId AND rr.robot_id = b.id').getQuery();
      return `NOT EXISTS ${inTeam}`;
    })
    .setParameter('teamId', team.id)
    .orderBy('RAND()')
    .limit(count)
    .getMany();
}

/**
 * One team in one transaction: its row locked (a member joining waits, or made us wait and we see
 * its place), checked again, then the missing places taken by robots and the team completed. A
 * team the pool cannot complete is left untouched: half a team of robots helps nobody.
 */
export async function fillTeam(m: EntityManager, ctx: Pick<JobContext, 'log' | 'audit'>, teamId: string, now: Date): Promise<FillOutcome> {
  const team = await m.createQueryBuilder(GroupBuyEventTeam, 't').setLock('pessimistic_write').where('t.id = :teamId', { teamId }).getOne();
  if (!team || team.status !== 'OPEN' || team.deleted !== 0) return { kind: 'skipped', reason: 'no longer open' };
  if (!team.expireTime || team.expireTime.getTime() <= now.getTime()) return { kind: 'skipped', reason: 'expired' };
  const event = await m.findOne(GroupBuyEvent, { where: { id: team.groupBuyEventId } });
  const rule = await ruleOf(m, team.groupBuyEventId);
  if (!event || event.enable !== 1 || event.status !== 'OPEN' || !rule || rule.robotEnabled !== 1) return { kind: 'skipped', reason: 'robots not allowed' };
  if (team.expireTime.getTime() - rule.robotFillMinutesBeforeExpire * MINUTE > now.getTime()) return { kind: 'skipped', reason: 'not yet in the robot window' };
  const missing = team.size - team.joinedCount;
  if (missing < 1 || missing > rule.maxRobotsPerTeam) return { kind: 'skipped', reason: `missing ${missing}, rule allows ${rule.maxRobotsPerTeam}` };

  const robots = await pickRobots(m, team, missing);
  if (robots.length < missing) {
    ctx.log.warn({ teamId, missing, available: robots.length }, 'robot pool too small to complete the team: left open');
    return { kind: 'skipped', reason: 'robot pool too small' };
  }
  for (const robot of robots) {
    const order = await m.insert(GroupBuyEventOrder, {
      groupBuyEventId: team.groupBuyEventId,
      groupBuyEventName: event.titile,
      groupBuyEventTeamId: team.id,
      memberId: null,
      size: team.size,
      memberName: robot.name,
      memberHeadUrl: robot.headUrl,
      timeExpire: team.expireTime,
      status: 'JOINED',
      pamentStatus: 'NONE',
      robot: 1,
      teamLeader: 0,
      chargedAmount: 0,
      createdTime: now,
      updatedTime: now,
    });
    const orderId = String((order.identifiers[0] as { id: string | number }).id);
    // The unique (team, robot) key refuses a robot twice in one team, whatever raced this pick.
    await m.insert(GroupBuyEventRobotRecord, { groupBuyEventId: team.groupBuyEventId, groupBuyEventTeamId: team.id, robotId: robot.id, groupBuyEventOrderId: orderId, createdTime: now });
  }
  await m
    .createQueryBuilder()
    .update(GroupBuyEventTeam)
    .set({ joinedCount: () => `joined_count + ${missing}`, robotCount: () => `robot_count + ${missing}`, updatedTime: now })
    .where('id = :id', { id: team.id })
    .execute();
  const success = await completeTeamIfFull(m, team.id, now, ctx);
  return { kind: 'filled', robots: missing, success };
}
