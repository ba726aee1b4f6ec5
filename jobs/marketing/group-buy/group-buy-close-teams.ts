import type { EntityManager } from 'typeorm';
import { GroupBuyEvent } from '../../../entities/marketing/group-buy-event.entity';
import { GroupBuyEventOrder } from '../../../entities/marketing/group-buy-event-order.entity';
import { GroupBuyEventRule } from '../../../entities/marketing/group-buy-event-rule.entity';
import { GroupBuyEventTeam } from '../../../entities/marketing/group-buy-event-team.entity';
import { sqlTable } from '../../../entities/raw-sql';
import { BusinessSource, OperationType } from '../../../entities/dms/audit';
import type { JobContext } from '../../context';
import { nextTeamPage, type TeamCursor, type TeamPage } from './group-buy-team-walk';
import { pagesById } from '../../../lib/pages-by-id';

/** Orders still holding a place in a team (paid or not yet). */
export const HELD_ORDER_STATUSES = ['WAITING_PAY', 'JOINED'] as const;
/** Payment states with no money taken: such an order is cancelled, not refunded. */
export const UNPAID_STATES = ['NONE', 'UNPAID', 'PAY_FAILED'] as const;

/**
 * Expired teams: OPEN, not full, `expire_time` at or before now. A team expiring exactly now has
 * expired, the same instant fill-robots stops filling it (it fills only while `expire_time` > now).
 */
export function expiredTeams(ctx: Pick<JobContext, 'db'>, now: Date, after: TeamCursor | null, limit: number): Promise<TeamPage> {
  const q = ctx.db.createQueryBuilder(GroupBuyEventTeam, 't').where("t.status = 'OPEN' AND t.expire_time <= :now AND t.joined_count < t.size AND t.deleted = 0", { now });
  return nextTeamPage(q, 'expire_time', after, limit);
}

export interface ClosedBatch {
  teamsFailed: number;
  robotOrdersCancelled: number;
  unpaidOrdersCancelled: number;
  /** Paid orders of events whose rule says no refund on failure. */
  paidOrdersFailedWithoutRefund: number;
}

async function updateOrders(m: EntityManager, teamIds: string[], status: 'CANCELLED' | 'FAILED', where: string, now: Date): Promise<number> {
  const result = await m
    .createQueryBuilder()
    .update(GroupBuyEventOrder)
    .set({ status, updatedTime: now })
    .where('group_buy_event_team_id IN (:...teamIds) AND status IN (:...held)', { teamIds, held: HELD_ORDER_STATUSES })
    .andWhere(where, { unpaid: UNPAID_STATES })
    .execute();
  return result.affected ?? 0;
}

/** Paid orders of teams whose event's rule refunds nothing: FAILED, with no refund ever requested. */
async function failWithoutRefund(m: EntityManager, teamIds: string[], now: Date): Promise<number> {
  const o = sqlTable(m, GroupBuyEventOrder);
  const t = sqlTable(m, GroupBuyEventTeam);
  const r = sqlTable(m, GroupBuyEventRule);
  const sql =
    `UPDATE ${o.path} o JOIN ${t.path} t ON t.id = o.group_buy_event_team_id ` +
    `SET o.status = 'FAILED', o.updated_time = ? ` +
    `WHERE t.id IN (?) AND o.status IN (?) AND o.pament_status = 'PAY_SUCCESS' AND COALESCE(o.robot, 0) = 0 ` +
    `AND EXISTS (SELECT 1 FROM ${r.path} r WHERE r.group_buy_event_id = t.group_buy_event_id AND r.deleted = 0 AND r.refund_on_fail = 0)`;
  const result = (await m.query(sql, [now, teamIds, [...HELD_ORDER_STATUSES]])) as { affectedRows?: number };
  return result.affectedRows ?? 0;
}

/**
 * One batch of expired teams in one transaction, their rows locked and checked again (a member may
 * have filled one meanwhile): FAILED, robot and unpaid orders CANCELLED. Paid orders keep their
 * state here: the refund step requests their refunds after commit, and they move on from there.
 */
export async function closeTeamBatch(m: EntityManager, ctx: Pick<JobContext, 'audit'>, ids: string[], now: Date): Promise<ClosedBatch> {
  const locked = await m
    .createQueryBuilder(GroupBuyEventTeam, 't')
    .setLock('pessimistic_write')
    .select('t.id')
    .where("t.id IN (:...ids) AND t.status = 'OPEN' AND t.expire_time <= :now AND t.joined_count < t.size AND t.deleted = 0", { ids, now })
    .getMany();
  const teamIds = locked.map((t) => t.id);
  if (teamIds.length === 0) return { teamsFailed: 0, robotOrdersCancelled: 0, unpaidOrdersCancelled: 0, paidOrdersFailedWithoutRefund: 0 };
  await m.createQueryBuilder().update(GroupBuyEventTeam).set({ status: 'FAILED', closedTime: now, updatedTime: now }).where('id IN (:...teamIds)', { teamIds }).execute();
  const robotOrdersCancelled = await updateOrders(m, teamIds, 'CANCELLED', 'robot = 1', now);
  const unpaidOrdersCancelled = await updateOrders(m, teamIds, 'CANCELLED', 'COALESCE(robot, 0) = 0 AND (pament_status IS NULL OR pament_status IN (:...unpaid))', now);
  const paidOrdersFailedWithoutRefund = await failWithoutRefund(m, teamIds, now);
  const counts = { teamsFailed: teamIds.length, robotOrdersCancelled, unpaidOrdersCancelled, paidOrdersFailedWithoutRefund };
  // One row per batch, naming its teams: a row per team would double the batch's writes.
  await ctx.audit(m, {
    businessNo: `group-buy-teams-${teamIds[0] ?? ''}-${teamIds[teamIds.length - 1] ?? ''}`.slice(0, 64),
    source: BusinessSource.GROUP_BUY,
    operation: OperationType.UPDATE,
    oldValue: { status: 'OPEN' },
    newValue: { status: 'FAILED', ...counts, teamIds },
    remark: 'group-buy teams expired before filling',
  });
  return counts;
}

/** Events past `end_time` become CLOSED, in primary-key batches; returns how many. */
export async function closeEndedEvents(ctx: Pick<JobContext, 'db' | 'audit'>, now: Date, batchSize: number): Promise<number> {
  let closed = 0;
  const pages = pagesById(batchSize, (afterId) =>
    ctx.db
      .createQueryBuilder(GroupBuyEvent, 'e')
      .select('e.id', 'id')
      .where("e.end_time < :now AND (e.status IS NULL OR e.status <> 'CLOSED') AND e.id > :afterId", { now, afterId })
      .orderBy('e.id', 'ASC')
      .limit(batchSize)
      .getRawMany<{ id: string | number }>(),
  );
  for await (const rows of pages) {
    const ids = rows.map((r) => String(r.id));
    closed += await ctx.db.transaction(async (m) => {
      const result = await m
        .createQueryBuilder()
        .update(GroupBuyEvent)
        .set({ status: 'CLOSED', updatedTime: now })
        .where("id IN (:...ids) AND end_time < :now AND (status IS NULL OR status <> 'CLOSED')", { ids, now })
        .execute();
      const affected = result.affected ?? 0;
      if (affected > 0) {
        await ctx.audit(m, { businessNo: `group-buy-events-${ids[0] ?? ''}`, source: BusinessSource.GROUP_BUY, operation: OperationType.UPDATE, newValue: { status: 'CLOSED', events: affected, eventIds: ids }, remark: 'group-buy events past end_time' });
      }
      return affected;
    });
  }
  return closed;
}
