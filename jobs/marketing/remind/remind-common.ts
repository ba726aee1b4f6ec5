import type { DataSource } from 'typeorm';
import { HubMessageDelivery } from '../../../entities/hub/hub-message-delivery.entity';
import { Member } from '../../../entities/marketing/member.entity';
import { sqlTable } from '../../../entities/raw-sql';
import type { JobContext } from '../../context';
import { PermanentError } from '../../../lib/errors';
import { formatBeijing } from '../../../lib/time';
import { enqueueOwedMessages, recordOwedMessages, type OwedMessage } from '../../messaging/owed-messages';
import { loadSmsTemplate, prepareSmsTemplate, type SmsParams } from '../../messaging/sms-template';
import { smsSend, smsSendPayload } from '../../messaging/sms-send.job';

/**
 * What the two reminder jobs share: which orders are worth a reminder, how a reminder becomes an
 * owed SMS, and the checks that turn a template the message could never use into a skip with a reason.
 */

/**
 * An order still holding its place: JOINED (team open, or signed up) or SUCCESS (team full), and
 * paid or free. WAITING_PAY, FAILED, CANCELLED and REFUNDED orders are not reminded.
 */
export const REMINDABLE_ORDER_STATUSES = ['JOINED', 'SUCCESS'] as const;
export const REMINDABLE_PAY_STATUSES = ['NONE', 'PAY_SUCCESS'] as const;

/** The 11 digits sms-send would accept, or null: an order without a usable number is skipped, never owed. */
export function mobileOf(raw: string | null): string | null {
  if (!raw) return null;
  const parsed = smsSendPayload.shape.phone.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

/** `YYYY-MM-DD HH:mm` in Beijing time, as a member reads it; '' when unknown. */
export function remindTime(at: Date | null): string {
  return at ? formatBeijing(at).slice(0, 16) : '';
}

export type TemplateCheck = { ok: true } | { ok: false; reason: string };

/**
 * Whether `key` names an enabled template whose parameters the reminder supplies. Checked before
 * anything is owed: a message recorded for a template that cannot render would only fail later,
 * and once the template is fixed the reminder is still owed within its window.
 */
export async function checkTemplate(db: DataSource, key: string, params: SmsParams): Promise<TemplateCheck> {
  if (!smsSendPayload.shape.templateKey.safeParse(key).success) return { ok: false, reason: `${JSON.stringify(key)} is not a template key` };
  try {
    prepareSmsTemplate(await loadSmsTemplate(db, key), params);
    return { ok: true };
  } catch (err) {
    if (err instanceof PermanentError) return { ok: false, reason: `${err.code}: ${err.message}` };
    throw err;
  }
}

/** One reminder SMS under its delivery key. */
export function reminderSms(key: string, phone: string, templateKey: string, params: Record<string, string>): OwedMessage {
  return { key, channel: 'sms', recipient: phone, job: smsSend, payload: { phone, templateKey, params } };
}

/** A remindable order as the walks read it: the phone is the order's, else the member's. */
interface ReminderOrderRow {
  id: string | number;
  phone: string | null;
  code: string | null;
}

export interface ReminderCount {
  recorded: number;
  withoutPhone: number;
}

/** Which orders one reminder run walks, and what each is sent. */
export interface OrderReminders {
  /** The order table (`group_buy_event_order`, `event_order`): `id`, `member_id`, `code`, `status`, `pament_status`. */
  orders: new () => object;
  /** The order's own phone column. */
  mobileColumn: string;
  /** The indexed column naming the event or session, and its id. */
  scope: { column: string; id: string };
  /** Further conditions on the order `o` (robots, deleted rows). */
  filter: string;
  /** The delivery key is this prefix and the order id. */
  keyPrefix: string;
  templateKey: string;
  params: (code: string | null) => Record<string, string>;
  batchSize: number;
}

/**
 * Owes one reminder SMS per remindable order of the scope, page after page by id. Each page is read
 * through the scope's index, anti-joined on the delivery key: a rerun reads only orders owed
 * nothing yet, and an order paid after an earlier run is still reached while its window is open.
 * A page's reminders are recorded in one transaction and enqueued after it commits.
 */
export async function oweOrderReminders(ctx: JobContext, r: OrderReminders): Promise<ReminderCount> {
  const o = sqlTable(ctx.db.manager, r.orders);
  const m = sqlTable(ctx.db.manager, Member);
  const d = sqlTable(ctx.db.manager, HubMessageDelivery);
  const sql = `SELECT o.id, COALESCE(NULLIF(o.${r.mobileColumn}, ''), mb.mobile) AS phone, o.code
      FROM ${o.path} o
      LEFT JOIN ${m.path} mb ON mb.id = o.member_id
      LEFT JOIN ${d.path} d ON d.delivery_key = CONCAT(?, o.id)
     WHERE o.${r.scope.column} = CAST(? AS UNSIGNED) AND o.id > CAST(? AS UNSIGNED) AND ${r.filter} AND d.id IS NULL
       AND o.status IN (?) AND COALESCE(o.pament_status, 'NONE') IN (?)
     ORDER BY o.id LIMIT ?`;
  const count: ReminderCount = { recorded: 0, withoutPhone: 0 };
  for (let afterId = '0'; ; ) {
    ctx.signal.throwIfAborted();
    const orders = (await ctx.db.query(sql, [r.keyPrefix, r.scope.id, afterId, REMINDABLE_ORDER_STATUSES, REMINDABLE_PAY_STATUSES, r.batchSize])) as ReminderOrderRow[];
    if (orders.length === 0) return count;
    const messages: OwedMessage[] = [];
    for (const order of orders) {
      const phone = mobileOf(order.phone);
      if (phone) messages.push(reminderSms(`${r.keyPrefix}${String(order.id)}`, phone, r.templateKey, r.params(order.code)));
      else count.withoutPhone += 1;
    }
    const now = ctx.now();
    const fresh = await ctx.db.transaction((manager) => recordOwedMessages(manager, messages, now));
    await enqueueOwedMessages(ctx, fresh);
    count.recorded += fresh.length;
    afterId = String(orders[orders.length - 1]?.id ?? afterId);
  }
}
