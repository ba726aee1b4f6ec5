import type { DataSource } from 'typeorm';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { EventSession } from '../../entities/marketing/event-session.entity';
import { MarketingEvent } from '../../entities/marketing/event.entity';
import { Member } from '../../entities/marketing/member.entity';
import { sqlTable } from '../../entities/raw-sql';
import type { JobContext } from '../../lib/context';
import { REMINDABLE_ORDER_STATUSES, REMINDABLE_PAY_STATUSES, oweOrderReminders, reminderSms, remindTime, type ReminderCount, type ReminderOrderRow } from './remind-common';

export interface UpcomingSession {
  id: string;
  startTime: Date;
  address: string | null;
  eventName: string | null;
  /** `event.sms_template_id`: the `hub_sms_template` key of the event's reminder. */
  templateKey: string | null;
}

/** The parameters of an event reminder; the template uses the ones its text needs. */
export function sessionParams(session: UpcomingSession, code: string | null): Record<string, string> {
  return { eventName: session.eventName ?? '', startTime: remindTime(session.startTime), address: session.address ?? '', code: code ?? '' };
}

/** Sessions of live events starting in (now, now + lead], a page at a time by id. */
export async function upcomingSessions(db: DataSource, now: Date, leadMs: number, afterId: string, limit: number): Promise<UpcomingSession[]> {
  const s = sqlTable(db.manager, EventSession);
  const e = sqlTable(db.manager, MarketingEvent);
  const rows = (await db.query(
    `SELECT s.id, s.start_time AS startTime, s.address, e.name AS eventName, NULLIF(TRIM(e.sms_template_id), '') AS templateKey
       FROM ${s.path} s JOIN ${e.path} e ON e.id = s.event_id
      WHERE s.start_time > ? AND s.start_time <= ? AND s.id > CAST(? AS UNSIGNED) AND COALESCE(s.deleted, 0) = 0 AND COALESCE(e.deleted, 0) = 0
      ORDER BY s.id LIMIT ?`,
    [now, new Date(now.getTime() + leadMs), afterId, limit],
  )) as (Omit<UpcomingSession, 'id'> & { id: string | number })[];
  return rows.map((r) => ({ ...r, id: String(r.id) }));
}

/**
 * Owes one reminder per remindable order of the session (delivery key
 * `event-remind-<session>-<order>`), through the session_id index in `batchSize` chunks.
 */
export function remindSessionOrders(ctx: JobContext, session: UpcomingSession, templateKey: string, batchSize: number): Promise<ReminderCount> {
  const o = sqlTable(ctx.db.manager, EventOrder);
  const m = sqlTable(ctx.db.manager, Member);
  const d = sqlTable(ctx.db.manager, HubMessageDelivery);
  const keyPrefix = `event-remind-${session.id}-`;
  const readPage = async (afterId: string): Promise<ReminderOrderRow[]> =>
    (await ctx.db.query(
      `SELECT o.id, COALESCE(NULLIF(o.mobile, ''), mb.mobile) AS phone, o.code
         FROM ${o.path} o
         LEFT JOIN ${m.path} mb ON mb.id = o.member_id
         LEFT JOIN ${d.path} d ON d.delivery_key = CONCAT(?, o.id)
        WHERE o.session_id = CAST(? AS UNSIGNED) AND o.id > CAST(? AS UNSIGNED) AND o.deleted = 0 AND d.id IS NULL
          AND o.status IN (?) AND COALESCE(o.pament_status, 'NONE') IN (?)
        ORDER BY o.id LIMIT ?`,
      [keyPrefix, session.id, afterId, REMINDABLE_ORDER_STATUSES, REMINDABLE_PAY_STATUSES, batchSize],
    )) as ReminderOrderRow[];
  return oweOrderReminders(ctx, readPage, (order, phone) => reminderSms(`${keyPrefix}${String(order.id)}`, phone, templateKey, sessionParams(session, order.code)));
}
