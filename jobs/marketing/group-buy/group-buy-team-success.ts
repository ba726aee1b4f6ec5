import { randomInt } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { GroupBuyEventOrder } from '../../../entities/marketing/group-buy-event-order.entity';
import { GroupBuyEventTeam } from '../../../entities/marketing/group-buy-event-team.entity';
import { BusinessSource, OperationType, type AuditEntry } from '../../../entities/dms/audit';
import { isDuplicateKeyError } from '../../../lib/errors';
import type { Logger } from '../../../lib/logger';
import { retryAtOnce } from '../../../lib/retry';
import type { OwedMessage } from '../../messaging/owed-messages';
import { recordSuccessNotices, type SucceededOrder } from './group-buy-team-notices';

/** Order statuses of a place still held in an OPEN team. */
export const LIVE_ORDER_STATUSES = ['JOINED'] as const;

export interface TeamSuccessDeps {
  log: Pick<Logger, 'warn'>;
  audit(manager: EntityManager, entry: AuditEntry): Promise<void>;
}

export interface TeamSuccess {
  completed: boolean;
  /** Real members' orders that became SUCCESS. */
  memberOrders: number;
  robotOrders: number;
  /** Recorded in this transaction: enqueue them (enqueueOwedMessages) once it has committed. */
  messages: OwedMessage[];
}

const CODE_TRIES = 5;

/** Twelve random digits: not guessable from the order id; the unique key on `code` refuses a repeat. */
const newCheckinCode = (): string => String(randomInt(100_000, 1_000_000)) + String(randomInt(0, 1_000_000)).padStart(6, '0');

/** Sets the order's check-in code, drawing again on the rare collision (InnoDB undoes only the failed statement). */
async function succeedOrder(manager: EntityManager, orderId: string, now: Date): Promise<string> {
  return retryAtOnce(CODE_TRIES, isDuplicateKeyError, async () => {
    const code = newCheckinCode();
    await manager.createQueryBuilder().update(GroupBuyEventOrder).set({ status: 'SUCCESS', code, updatedTime: now }).where('id = :id', { id: orderId }).execute();
    return code;
  });
}

/**
 * Makes a full team SUCCESS, with its live orders SUCCESS under unique check-in codes, in the
 * caller's transaction: whoever fills the last place (a member joining, robots filling) calls this
 * before committing. The team row is locked first (a no-op when the caller holds it already), so a
 * team completes once. Returns the members' notices owed.
 */
export async function completeTeamIfFull(manager: EntityManager, teamId: string, now: Date, deps: TeamSuccessDeps): Promise<TeamSuccess> {
  const none: TeamSuccess = { completed: false, memberOrders: 0, robotOrders: 0, messages: [] };
  const team = await manager.createQueryBuilder(GroupBuyEventTeam, 't').setLock('pessimistic_write').where('t.id = :teamId', { teamId }).getOne();
  if (!team || team.status !== 'OPEN' || team.joinedCount < team.size) return none;

  await manager.createQueryBuilder().update(GroupBuyEventTeam).set({ status: 'SUCCESS', successTime: now, updatedTime: now }).where('id = :id', { id: team.id }).execute();
  const orders = await manager
    .createQueryBuilder(GroupBuyEventOrder, 'o')
    .select(['o.id', 'o.robot', 'o.memberId', 'o.memberMobile', 'o.groupBuyEventName'])
    .where('o.group_buy_event_team_id = :teamId AND o.status IN (:...live)', { teamId, live: LIVE_ORDER_STATUSES })
    .orderBy('o.id', 'ASC')
    .getMany();
  const succeeded: SucceededOrder[] = [];
  let robotOrders = 0;
  for (const order of orders) {
    const code = await succeedOrder(manager, order.id, now);
    if (order.robot === 1 || order.memberId === null) robotOrders += 1;
    else succeeded.push({ orderId: order.id, memberId: order.memberId, mobile: order.memberMobile, eventName: order.groupBuyEventName ?? '拼课团', code });
  }
  await deps.audit(manager, {
    businessNo: team.id,
    source: BusinessSource.GROUP_BUY,
    operation: OperationType.UPDATE,
    oldValue: { status: team.status },
    newValue: { status: 'SUCCESS', joinedCount: team.joinedCount, robotCount: team.robotCount, orders: orders.length },
    remark: 'group-buy team full',
  });
  const messages = await recordSuccessNotices(manager, succeeded, now, deps.log);
  return { completed: true, memberOrders: succeeded.length, robotOrders, messages };
}
