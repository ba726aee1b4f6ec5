import { z } from 'zod';
import { AndroidOrder } from '../../entities/app/android-order.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import type { Enqueue, EnqueuedJob } from '../context';
import { defineJob, done, type JobResult } from '../define-job';
import { applyWechatTransaction, type ApplyOutcome } from './apply-wechat-transaction';

export interface SyncOrderResult {
  outTradeNo: string;
  tradeState?: string;
  outcome: ApplyOutcome | 'not-at-wechat';
}

/**
 * Asks WeChat for one order's state and applies it: what finds a payment whose callback never
 * came. May run any number of times; the apply is forward-only.
 */
export const wechatPaySyncOrder = defineJob({
  name: 'wechat-pay-sync-order',
  queue: 'payments',
  description: 'Query one WeChat Pay order by out_trade_no and apply its state to payment_order / android_order',
  payload: z.strictObject({
    mchid: z.string().min(1).max(32),
    outTradeNo: z.string().min(1).max(64),
  }),
  entities: [PaymentOrder, AndroidOrder, EventOrder, GroupBuyEventOrder, HubReconciliationItem, DmsBusinessLog],
  options: { attempts: 5, backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 } },
  async handle({ mchid, outTradeNo }, ctx): Promise<JobResult<SyncOrderResult>> {
    const client = await ctx.integrations.wechatPay.client(mchid);
    const tx = await client.queryOrder(outTradeNo);
    // ORDER_NOT_EXIST: the payer never got as far as WeChat; close-expired ends it at its expiry.
    if (!tx) return done({ outTradeNo, outcome: 'not-at-wechat' });
    const applied = await applyWechatTransaction(ctx, mchid, tx, 'SYNC');
    if (applied.outcome !== 'unchanged') ctx.log.info({ outTradeNo, tradeState: tx.trade_state, outcome: applied.outcome }, 'wechat pay order synced');
    return done({ outTradeNo, tradeState: tx.trade_state, outcome: applied.outcome });
  },
});

export const syncDeduplicationId = (mchid: string, outTradeNo: string): string => `wechat-sync-${mchid}-${outTradeNo}`;

/**
 * Enqueues a sync unless one for the order is already waiting or running (BullMQ deduplication,
 * not a job id: the same order is synced again later, as often as it needs).
 */
export function enqueueSyncOrder(enqueue: Enqueue, mchid: string, outTradeNo: string): Promise<EnqueuedJob> {
  return enqueue(wechatPaySyncOrder, { mchid, outTradeNo }, { deduplicationId: syncDeduplicationId(mchid, outTradeNo) });
}
