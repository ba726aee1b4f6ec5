import { GroupBuyEventOrder } from '../../../entities/marketing/group-buy-event-order.entity';
import { GroupBuyEventTeam } from '../../../entities/marketing/group-buy-event-team.entity';
import { PaymentOrder } from '../../../entities/marketing/payment-order.entity';
import { BusinessSource, OperationType } from '../../../entities/dms/audit';
import type { JobContext } from '../../context';
import { raiseAlert } from '../../messaging/alert-ops';
import { enqueueRefundSubmit, RefundRefusedError, requestRefund } from '../../wechat-pay/request-refund';
import { HELD_ORDER_STATUSES } from './group-buy-close-teams';
import { nextTeamPage, type TeamCursor, type TeamPage } from './group-buy-team-walk';

export const CLOSE_TEAMS_CLIENT = 'group-buy-close-teams';
const REFUND_CONCURRENCY = 4;
/** The refund's idempotency key: one refund per order, ever, whichever run asks. */
export const refundKeyOf = (orderId: string): string => `group-buy-order-${orderId}`;

interface PaidOrder {
  id: string;
  teamId: string;
  paymentOrderId: string | null;
  amount: number | null;
}

/** Teams FAILED since `since`, along the (status, closed_time) index. */
function failedTeams(ctx: Pick<JobContext, 'db'>, since: Date, after: TeamCursor | null, limit: number): Promise<TeamPage> {
  const q = ctx.db.createQueryBuilder(GroupBuyEventTeam, 't').where("t.status = 'FAILED' AND t.closed_time >= :since", { since });
  return nextTeamPage(q, 'closed_time', after, limit);
}

/**
 * Paid real orders of these teams whose refund was never requested (no `refund_order_id`). A crash
 * after a batch committed, or a refusal, leaves an order here: the next run asks again (the key
 * makes it the same refund), until its team failed longer ago than the horizon.
 */
async function paidOrdersOwed(ctx: Pick<JobContext, 'db'>, teamIds: string[]): Promise<PaidOrder[]> {
  const rows = await ctx.db
    .createQueryBuilder(GroupBuyEventOrder, 'o')
    .leftJoin(PaymentOrder, 'p', 'p.id = o.payment_order_id')
    .select('o.id', 'id')
    .addSelect('o.group_buy_event_team_id', 'teamId')
    .addSelect('o.payment_order_id', 'paymentOrderId')
    .addSelect('p.amount', 'amount')
    .where('o.group_buy_event_team_id IN (:...teamIds)', { teamIds })
    .andWhere("COALESCE(o.robot, 0) = 0 AND o.pament_status = 'PAY_SUCCESS' AND o.status IN (:...held) AND o.refund_order_id IS NULL", { held: HELD_ORDER_STATUSES })
    .orderBy('o.id', 'ASC')
    .getRawMany<{ id: string | number; teamId: string | number; paymentOrderId: string | number | null; amount: number | null }>();
  return rows.map((r) => ({ id: String(r.id), teamId: String(r.teamId), paymentOrderId: r.paymentOrderId === null ? null : String(r.paymentOrderId), amount: r.amount }));
}

export interface RefundCounts {
  refundsRequested: number;
  refundsRefused: number;
}

type RefundDeps = Pick<JobContext, 'db' | 'log' | 'audit' | 'now' | 'enqueue' | 'config' | 'signal' | 'progress'>;

/**
 * Requests the refund of every paid order owed one (client `group-buy-close-teams`, key
 * `group-buy-order-<id>`, the payment's full amount), marks the order FAILED pointing at its refund,
 * and enqueues refund-submit after that commits. When WeChat's refund lands, the refunds path
 * (refundBusinessOrders) moves the order to REFUNDED. A refused refund writes nothing: the order
 * keeps its state, the refusal is logged and alerted, and a later run asks again.
 */
export async function refundFailedTeams(ctx: RefundDeps, since: Date, batchSize: number): Promise<RefundCounts> {
  const counts: RefundCounts = { refundsRequested: 0, refundsRefused: 0 };
  let after: TeamCursor | null = null;
  for (;;) {
    ctx.signal.throwIfAborted();
    const { ids, next } = await failedTeams(ctx, since, after, batchSize);
    if (ids.length === 0) return counts;
    const owed = await paidOrdersOwed(ctx, ids);
    // A few at once: each refund locks only its own payment, and each waits mostly on commits.
    for (let i = 0; i < owed.length; i += REFUND_CONCURRENCY) {
      const requested = await Promise.all(owed.slice(i, i + REFUND_CONCURRENCY).map((order) => refundOrder(ctx, order)));
      for (const ok of requested) counts[ok ? 'refundsRequested' : 'refundsRefused'] += 1;
    }
    after = next;
    await ctx.progress(counts.refundsRequested + counts.refundsRefused);
  }
}

async function refundOrder(ctx: RefundDeps, order: PaidOrder): Promise<boolean> {
  try {
    if (order.paymentOrderId === null || order.amount === null) {
      throw new RefundRefusedError('PAYMENT_NOT_FOUND', `group-buy order ${order.id} names no payment_order we have`);
    }
    const { refund } = await requestRefund(ctx, {
      client: CLOSE_TEAMS_CLIENT,
      idempotencyKey: refundKeyOf(order.id),
      paymentOrderId: order.paymentOrderId,
      amount: order.amount,
      reason: '拼团失败退款',
    });
    const now = ctx.now();
    await ctx.db.transaction(async (m) => {
      const moved = await m
        .createQueryBuilder()
        .update(GroupBuyEventOrder)
        .set({ status: 'FAILED', refundOrderId: refund.refundOrderId, updatedTime: now })
        .where('id = :id AND status IN (:...held) AND refund_order_id IS NULL', { id: order.id, held: HELD_ORDER_STATUSES })
        .execute();
      if (!moved.affected) return;
      await ctx.audit(m, {
        businessNo: order.id,
        source: BusinessSource.GROUP_BUY,
        operation: OperationType.UPDATE,
        newValue: { status: 'FAILED', refundOrderId: refund.refundOrderId, outRefundNo: refund.outRefundNo },
        remark: `group-buy team ${order.teamId} failed: refund requested`,
      });
    });
    if (refund.status === 'REFUNDING') {
      try {
        await enqueueRefundSubmit(ctx.enqueue, refund.outRefundNo);
      } catch (err) {
        ctx.log.warn({ err, outRefundNo: refund.outRefundNo }, 'refund-submit not enqueued: the refund sweeper submits REFUNDING rows');
      }
    }
    return true;
  } catch (err) {
    if (!(err instanceof RefundRefusedError)) throw err;
    const details = { orderId: order.id, teamId: order.teamId, paymentOrderId: order.paymentOrderId, code: err.code, reason: err.message };
    await raiseAlert(ctx, 'group-buy-refund-refused', 'group-buy team failed but its paid order could not be refunded: the order keeps its state', details);
    return false;
  }
}
