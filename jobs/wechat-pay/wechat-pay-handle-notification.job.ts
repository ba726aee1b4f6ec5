import { withAfterCommit, type CallerTransaction } from '../caller-transaction';
import { z } from 'zod';
import { AndroidOrder } from '../../entities/app/android-order.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import type { VerifiedNotification, WechatPayRefundNotice } from '../../integrations/wechat-pay/wechat-pay.client';
import type { JobContext } from '../context';
import { PermanentError } from '../../lib/errors';
import { defineJob, done, skipped } from '../define-job';
import { applyWechatRefund, refundStateOfNotice, type RefundApplyOutcome } from './apply-wechat-refund';
import { applyWechatTransaction, type ApplyOutcome } from './apply-wechat-transaction';

/**
 * Applies one verified WeChat Pay callback stored in `pay_notify_log`. The route verified its
 * signature before storing the raw body; here the merchant's client decrypts it again (the APIv3
 * key never leaves the client) and the one apply function of its kind (payment or refund) moves
 * the order forward only, so a callback delivered twice, late or out of order changes nothing
 * more. The row turns handled in the transaction of the change it caused.
 */

/** The job of a notification: one per pay_notify_log row, whichever delivery or sweep enqueued it. */
export const notifyJobId = (notifyLogId: string): string => `wechat-notify-${notifyLogId}`;

export type NotificationOutcome = ApplyOutcome | RefundApplyOutcome | 'already-handled' | 'ignored-event';

export interface NotificationResult {
  notifyLogId: string;
  eventType: string;
  outTradeNo: string | null;
  outcome: NotificationOutcome;
}

/** What ops read in `pay_notify_log.error` of a handled row that changed nothing. */
const NOTES: Partial<Record<NotificationOutcome, string>> = {
  'unknown-order': 'unknown out_trade_no: no payment_order or android_order has it',
  'amount-mismatch': 'amount differs from our order: not applied, see hub_reconciliation_item',
  'appid-mismatch': "appid differs from our order's: not applied, see hub_reconciliation_item",
  'unknown-refund': 'unknown out_refund_no: no refund_order of this merchant has it',
  'refund-amount-mismatch': 'refund amount differs from our refund_order: not applied',
  'ignored-event': 'event type the hub does not apply',
};

export const wechatPayHandleNotification = defineJob({
  name: 'wechat-pay-handle-notification',
  queue: 'payments',
  description: 'Apply a verified WeChat Pay callback (pay_notify_log) to payment_order / android_order / refund_order and the business order',
  payload: z.strictObject({ notifyLogId: z.string().regex(/^\d+$/) }),
  entities: [PayNotifyLog, PaymentOrder, RefundOrder, AndroidOrder, EventOrder, GroupBuyEventOrder, HubReconciliationItem, DmsBusinessLog],
  options: { attempts: 8, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 } },
  async handle({ notifyLogId }, ctx) {
    const row = await ctx.db.getRepository(PayNotifyLog).findOne({ where: { id: notifyLogId } });
    if (!row) return skipped(`no pay_notify_log row ${notifyLogId}`);
    if (row.handled === 1) return skipped('already handled');
    const result = (outcome: NotificationOutcome): NotificationResult => ({ notifyLogId, eventType: row.eventType, outTradeNo: row.outTradeNo, outcome });

    if (row.channel !== 'WECHAT' || row.verified !== 1) return skipped('not a verified WeChat Pay callback');
    const isRefund = row.eventType.startsWith('REFUND.');
    if (!isRefund && (row.eventType !== 'TRANSACTION.SUCCESS' || !row.outTradeNo)) return done(result(await markHandled(ctx, notifyLogId, 'ignored-event')));

    const client = await ctx.integrations.wechatPay.client(row.merchant);
    const notification = client.openStoredNotification(Buffer.from(row.rawBody, 'utf8'));
    if (isRefund) {
      const refund = refundResource(notifyLogId, row.eventType, notification);
      const outcome = await applyLocked(ctx, notifyLogId, (within) => applyWechatRefund(ctx, row.merchant, refundStateOfNotice(refund), 'NOTIFICATION', { within }));
      ctx.log.info({ notifyLogId, outRefundNo: refund.out_refund_no, refundStatus: refund.refund_status, outcome }, 'wechat pay refund notification handled');
      return done(result(outcome));
    }
    if (notification.kind !== 'transaction') throw new PermanentError('NOTIFICATION_MISMATCH', `row ${notifyLogId} says TRANSACTION.SUCCESS, its resource is a ${notification.kind}`);
    const tx = notification.resource;
    const outcome = await applyLocked(ctx, notifyLogId, (within) => applyWechatTransaction(ctx, row.merchant, tx, 'NOTIFICATION', { within }));
    ctx.log.info({ notifyLogId, outTradeNo: row.outTradeNo, tradeState: tx.trade_state, outcome }, 'wechat pay notification handled');
    return done(result(outcome));
  },
});

function refundResource(notifyLogId: string, eventType: string, n: VerifiedNotification): WechatPayRefundNotice {
  if (n.kind !== 'refund') throw new PermanentError('NOTIFICATION_MISMATCH', `row ${notifyLogId} says ${eventType}, its resource is a ${n.kind}`);
  return n.resource;
}

/**
 * The notify row is locked first, then the payment row: two runs of one notification take turns,
 * and the second finds the row handled.
 */
async function applyLocked(ctx: JobContext, notifyLogId: string, apply: (within: CallerTransaction) => Promise<{ outcome: ApplyOutcome | RefundApplyOutcome }>): Promise<NotificationOutcome> {
  return withAfterCommit(ctx.db, async (within) => {
    const m = within.manager;
    const locked = await m.createQueryBuilder(PayNotifyLog, 'n').setLock('pessimistic_write').select(['n.id', 'n.handled']).where('n.id = :id', { id: notifyLogId }).getOne();
    if (!locked || locked.handled === 1) return 'already-handled';
    const applied = await apply(within);
    await m.update(PayNotifyLog, { id: notifyLogId, handled: 0 }, { handled: 1, error: NOTES[applied.outcome] ?? null, updatedTime: ctx.now() });
    return applied.outcome;
  });
}

async function markHandled(ctx: JobContext, notifyLogId: string, outcome: NotificationOutcome): Promise<NotificationOutcome> {
  const res = await ctx.db.getRepository(PayNotifyLog).update({ id: notifyLogId, handled: 0 }, { handled: 1, error: NOTES[outcome] ?? null, updatedTime: ctx.now() });
  return (res.affected ?? 0) === 1 ? outcome : 'already-handled';
}
