import { z } from 'zod';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { isOrderNotExist, OrderPaidError } from '../../integrations/wechat-pay/wechat-pay.errors';
import type { JobContext } from '../context';
import { PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';
import { defineJob, done } from '../define-job';
import { applyWechatTransaction, type ApplyOutcome } from './apply-wechat-transaction';

/**
 * UNPAID payments past their `time_expire`: closed at WeChat first (so nobody can pay them any
 * more), then marked PAY_FAILED with their business orders. One paid meanwhile is applied as paid
 * instead. One order's failure never stops the others.
 */

type Expired = { id: string; outTradeNo: string; mchid: string; timeExpire: Date };
type Closed = { outTradeNo: string; outcome: ApplyOutcome | 'not-at-wechat' };
type Failure = { outTradeNo: string; error: string; transient: boolean };

function expiredPage(ctx: JobContext, now: Date, batchSize: number, after: { at: Date; id: string } | null): Promise<Expired[]> {
  const qb = ctx.db
    .createQueryBuilder(PaymentOrder, 'p')
    .select('p.id', 'id')
    .addSelect('p.out_trade_no', 'outTradeNo')
    .addSelect('p.mchid', 'mchid')
    .addSelect('p.time_expire', 'timeExpire')
    .where("p.pay_status = 'UNPAID' AND p.time_expire < :now", { now });
  if (after) qb.andWhere('(p.time_expire > :at OR (p.time_expire = :at AND p.id > :id))', { at: after.at, id: after.id });
  return qb.orderBy('p.time_expire', 'ASC').addOrderBy('p.id', 'ASC').limit(batchSize).getRawMany<Expired>();
}

async function closeOne(ctx: JobContext, order: Expired): Promise<Closed> {
  const client = await ctx.integrations.wechatPay.client(order.mchid);
  try {
    await client.closeOrder(order.outTradeNo);
  } catch (err) {
    if (err instanceof OrderPaidError) {
      const tx = await client.queryOrder(order.outTradeNo);
      if (!tx) throw new RetryableError(`WeChat Pay says ${order.outTradeNo} is paid but cannot find it`);
      const applied = await applyWechatTransaction(ctx, order.mchid, tx, 'CLOSE');
      return { outTradeNo: order.outTradeNo, outcome: applied.outcome };
    }
    // The payer never reached WeChat: nothing to close there, the order fails here all the same.
    if (!isOrderNotExist(err)) throw err;
  }
  const applied = await applyWechatTransaction(ctx, order.mchid, { out_trade_no: order.outTradeNo, trade_state: 'CLOSED', mchid: order.mchid }, 'CLOSE');
  return { outTradeNo: order.outTradeNo, outcome: applied.outcome };
}

export const wechatPayCloseExpired = defineJob({
  name: 'wechat-pay-close-expired',
  queue: 'payments',
  description: 'Close UNPAID payment_order rows past time_expire at WeChat and mark them PAY_FAILED (or paid, if they were)',
  payload: z.strictObject({ batchSize: z.number().int().min(1).max(2_000).default(200) }),
  entities: [PaymentOrder, EventOrder, GroupBuyEventOrder, HubReconciliationItem, DmsBusinessLog],
  options: { attempts: 3, backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 } },
  async handle({ batchSize }, ctx) {
    const now = ctx.now();
    const outcomes: Record<string, number> = {};
    const failures: Failure[] = [];
    let rateLimited: RateLimitedError | undefined;
    let seen = 0;
    for (let after: { at: Date; id: string } | null = null; !rateLimited; ) {
      ctx.signal.throwIfAborted();
      const page = await expiredPage(ctx, now, batchSize, after);
      for (const order of page) {
        try {
          const closed = await closeOne(ctx, order);
          outcomes[closed.outcome] = (outcomes[closed.outcome] ?? 0) + 1;
        } catch (err) {
          // The whole merchant account waits: the rest of the batch would only be throttled too.
          if (err instanceof RateLimitedError) {
            rateLimited = err;
            break;
          }
          const transient = !(err instanceof PermanentError);
          failures.push({ outTradeNo: order.outTradeNo, error: err instanceof Error ? err.message : String(err), transient });
          ctx.log.warn({ err, outTradeNo: order.outTradeNo }, 'could not close expired wechat pay order');
        }
      }
      seen += page.length;
      await ctx.progress(seen);
      const last = page.at(-1);
      if (!last || page.length < batchSize) break;
      after = { at: last.timeExpire, id: last.id };
    }
    if (rateLimited) throw rateLimited;
    if (failures.some((f) => f.transient)) {
      throw new RetryableError(`${failures.length} of ${seen} expired orders could not be closed: ${failures.slice(0, 5).map((f) => `${f.outTradeNo} (${f.error})`).join('; ')}`);
    }
    if (seen > 0) ctx.log.info({ seen, outcomes, failed: failures.length }, 'expired wechat pay orders closed');
    return done({ seen, outcomes, failures });
  },
});
