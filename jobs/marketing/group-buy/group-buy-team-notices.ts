import type { EntityManager } from 'typeorm';
import { Notify, NotifyStatus, NotifyType } from '../../../entities/customer-service/notify.entity';
import { insertIfAbsent } from '../../../entities/raw-sql';
import type { Logger } from '../../../lib/logger';
import { recordOwedMessages, type OwedMessage } from '../../messaging/owed-messages';
import { smsSend } from '../../messaging/sms-send.job';

/** The hub_sms_template key of the success notice; its parameters are `event` and `code`. */
export const GROUP_BUY_SUCCESS_TEMPLATE = 'group-buy-success';
/** `notifies.project_id` of the in-app notices: the marketing platform's members read them there. */
export const GROUP_BUY_NOTIFY_PROJECT = 'marketing';

/** A real member's order that has just become SUCCESS. */
export interface SucceededOrder {
  orderId: string;
  memberId: string;
  mobile: string | null;
  eventName: string;
  code: string;
}

/** One key per order and notice kind: the order is told once, however often its team is looked at. */
export const successNoticeKey = (orderId: string): string => `group-buy-success-${orderId}`;

/**
 * Records, in the success transaction, what a member is owed: an in-app `notifies` row (settled by
 * notify-dispatch) and an SMS through sms-send. Members carry no mini-program openid in `member`,
 * so the WeChat subscribe channel has no recipient here. Returns the messages to enqueue after commit.
 */
export async function recordSuccessNotices(manager: EntityManager, orders: readonly SucceededOrder[], now: Date, log: Pick<Logger, 'warn'>): Promise<OwedMessage[]> {
  const owed: OwedMessage[] = [];
  for (const o of orders) {
    const key = successNoticeKey(o.orderId);
    const event = o.eventName.slice(0, 20);
    await insertIfAbsent(manager, Notify, {
      notifyId: key,
      projectId: GROUP_BUY_NOTIFY_PROJECT,
      userId: o.memberId,
      type: NotifyType.IN_APP,
      title: '拼团成功',
      content: `您参加的「${event}」已拼团成功，核销码 ${o.code}`,
      status: NotifyStatus.PENDING,
      createdAt: now,
      updatedAt: now,
    });
    const payload = { phone: o.mobile ?? '', templateKey: GROUP_BUY_SUCCESS_TEMPLATE, params: { event, code: o.code } };
    if (!smsSend.payload.safeParse(payload).success) {
      log.warn({ orderId: o.orderId, memberId: o.memberId }, 'group-buy success SMS not owed: the order has no mainland mobile number');
      continue;
    }
    owed.push({ key, channel: 'sms', recipient: payload.phone, job: smsSend, payload });
  }
  return recordOwedMessages(manager, owed, now);
}
