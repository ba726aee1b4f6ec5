import type { DataSource } from 'typeorm';
import { EventOrder } from '../../../entities/marketing/event-order.entity';
import { EventSession } from '../../../entities/marketing/event-session.entity';
import { MarketingEvent } from '../../../entities/marketing/event.entity';
import { sqlTable } from '../../../entities/raw-sql';
import type { JobContext } from '../../context';
import { oweOrderReminders, remindTime, type ReminderCount } from './remind-common';

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
  return oweOrderReminders(ctx, {
    orders: EventOrder,
    mobileColumn: 'mobile',
    scope: { column: 'session_id', id: session.id },
    filter: 'o.deleted = 0',
    keyPrefix: `event-remind-${session.id}-`,
    templateKey,
    params: (code) => sessionParams(session, code),
    batchSize,
  });
}
