import type { DataSource } from 'typeorm';
import { GroupBuyEventOrder } from '../../../entities/marketing/group-buy-event-order.entity';
import { GroupBuyEvent } from '../../../entities/marketing/group-buy-event.entity';
import { sqlTable } from '../../../entities/raw-sql';
import type { JobContext } from '../../context';
import { oweOrderReminders, remindTime, type ReminderCount } from './remind-common';

/**
 * Seed 001: `remind_hours` 提醒的小时数 "hours after the start, or hours before the end", with
 * `remind_time_type` BEGIN | END. The reminder is due at begin_time + remind_hours (BEGIN) or
 * end_time − remind_hours (END), for an enabled OPEN event that has not ended.
 */
export interface DueGroupBuyEvent {
  id: string;
  title: string | null;
  beginTime: Date | null;
  endTime: Date | null;
  remindAt: Date;
}

/** Events whose reminder time is in (now − catchUp, now] and whose end is still ahead. */
export async function dueGroupBuyEvents(db: DataSource, now: Date, catchUpMs: number): Promise<DueGroupBuyEvent[]> {
  const e = sqlTable(db.manager, GroupBuyEvent);
  const remindAt = `CASE e.remind_time_type WHEN 'BEGIN' THEN DATE_ADD(e.begin_time, INTERVAL e.remind_hours HOUR)
    WHEN 'END' THEN DATE_SUB(e.end_time, INTERVAL e.remind_hours HOUR) END`;
  const rows = (await db.query(
    `SELECT e.id, e.titile AS title, e.begin_time AS beginTime, e.end_time AS endTime, ${remindAt} AS remindAt
       FROM ${e.path} e
      WHERE e.status = 'OPEN' AND e.enable = 1 AND COALESCE(e.deleted, 0) = 0 AND e.remind_hours >= 0
        AND e.end_time > ? AND ${remindAt} <= ? AND ${remindAt} > ?
      ORDER BY e.id`,
    [now, now, new Date(now.getTime() - catchUpMs)],
  )) as { id: string | number; title: string | null; beginTime: Date | null; endTime: Date | null; remindAt: Date }[];
  return rows.map((r) => ({ ...r, id: String(r.id) }));
}

/**
 * Owes one reminder per remindable order of a real member (`robot` 0) of the event (delivery key
 * `group-buy-remind-<event>-<order>`), through the group_buy_event_id index in `batchSize` chunks.
 */
export function remindEventOrders(ctx: JobContext, event: DueGroupBuyEvent, templateKey: string, batchSize: number): Promise<ReminderCount> {
  const params = { eventName: event.title ?? '', beginTime: remindTime(event.beginTime), endTime: remindTime(event.endTime) };
  return oweOrderReminders(ctx, {
    orders: GroupBuyEventOrder,
    mobileColumn: 'member_mobile',
    scope: { column: 'group_buy_event_id', id: event.id },
    filter: 'COALESCE(o.robot, 0) = 0',
    keyPrefix: `group-buy-remind-${event.id}-`,
    templateKey,
    params: (code) => ({ ...params, code: code ?? '' }),
    batchSize,
  });
}
