import { z } from 'zod';
import { AndroidOrder } from '../../entities/app/android-order.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import type { CreateRefundRequest, WechatPayRefund } from '../../integrations/wechat-pay/wechat-pay.client';
import { RefundDeferredError } from '../../integrations/wechat-pay/wechat-pay.errors';
import { raiseAlert } from '../messaging/alert-ops';
import type { JobContext } from '../context';
import { PermanentError } from '../../lib/errors';
import { defineJob, done, skipped, type JobResult } from '../define-job';
import { applyWechatRefund, markRefundFailed, refundStateOf, type RefundApplyOutcome } from './apply-wechat-refund';

export interface RefundSubmitResult {
  outRefundNo: string;
  status?: string;
  outcome: RefundApplyOutcome;
  /** The vendor's code when WeChat refused the refund for good. */
  code?: string;
}

/** WeChat's `out_refund_no` alphabet. */
export const outRefundNoSchema = z.string().regex(/^[0-9A-Za-z_\-|*@]{1,64}$/, 'expected an out_refund_no');

/** The merchant a refund goes through: its payment's, or the default one for app orders. */
export async function refundMerchant(ctx: Pick<JobContext, 'db' | 'integrations'>, refund: Pick<RefundOrder, 'paymentOrderId'>): Promise<string> {
  if (!refund.paymentOrderId) return ctx.integrations.wechatPay.defaultMchid;
  const payment = await ctx.db.getRepository(PaymentOrder).findOne({ where: { id: refund.paymentOrderId }, select: { id: true, mchid: true } });
  return payment?.mchid ?? ctx.integrations.wechatPay.defaultMchid;
}

/**
 * Asks WeChat to refund one `refund_order`, always under the row's own `out_refund_no`, so a retry
 * after a timeout (WeChat may have accepted) refunds nothing twice: WeChat answers the refund it
 * already has. Its answer goes through the one apply function. Transient failures retry, NOT_ENOUGH
 * waits without using an attempt, a "never" code ends the refund REFUND_FAILED with an alert.
 */
export const refundSubmit = defineJob({
  name: 'refund-submit',
  queue: 'refunds',
  description: 'Call WeChat Pay create-refund for one refund_order (by out_refund_no) and apply its answer',
  payload: z.strictObject({ outRefundNo: outRefundNoSchema }),
  entities: [RefundOrder, PaymentOrder, AndroidOrder, EventOrder, GroupBuyEventOrder, DmsBusinessLog],
  // Generous: the sweeper retries a refund whose attempts ran out, but each retry is cheap and safe.
  options: { attempts: 10, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 } },
  async handle({ outRefundNo }, ctx): Promise<JobResult<RefundSubmitResult>> {
    const row = await ctx.db.getRepository(RefundOrder).findOne({ where: { outRefundNo } });
    if (!row) return skipped(`no refund_order ${outRefundNo}`);
    if (row.status !== 'REFUNDING') return skipped(`refund is final: ${row.status}`);
    // Accepted by WeChat already: refund-sync and the callbacks follow it from here.
    if (row.wechatStatus !== null) return skipped(`accepted by WeChat: ${row.wechatStatus}`);

    const request: CreateRefundRequest = { out_trade_no: row.outTradeNo, out_refund_no: row.outRefundNo, amount: { refund: row.amount, total: row.total, currency: 'CNY' } };
    if (row.reason) request.reason = row.reason;
    let mchid: string;
    let answer: WechatPayRefund;
    try {
      mchid = await refundMerchant(ctx, row);
      const client = await ctx.integrations.wechatPay.client(mchid);
      answer = await client.createRefund(request);
    } catch (err) {
      if (err instanceof RefundDeferredError) {
        raiseAlert(ctx, 'refund-balance-short', 'WeChat Pay balance cannot cover a refund (NOT_ENOUGH): top it up; the refund waits', {
          outRefundNo, amount: row.amount, until: new Date(err.untilMs).toISOString(),
        });
        throw err;
      }
      if (!(err instanceof PermanentError)) throw err;
      const failed = await markRefundFailed(ctx, outRefundNo, `${err.code}: ${err.message}`);
      ctx.log.warn({ outRefundNo, code: err.code, outcome: failed.outcome }, 'refund refused by WeChat Pay for good');
      return done({ outRefundNo, outcome: failed.outcome, code: err.code });
    }
    const applied = await applyWechatRefund(ctx, mchid, refundStateOf(answer), 'SUBMIT');
    ctx.log.info({ outRefundNo, status: answer.status, outcome: applied.outcome }, 'refund submitted to WeChat Pay');
    return done({ outRefundNo, status: answer.status, outcome: applied.outcome });
  },
});
