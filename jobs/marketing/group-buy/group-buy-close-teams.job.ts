import { z } from 'zod';
import { DmsBusinessLog } from '../../../entities/dms/dms-business-log.entity';
import { GroupBuyEvent } from '../../../entities/marketing/group-buy-event.entity';
import { GroupBuyEventOrder } from '../../../entities/marketing/group-buy-event-order.entity';
import { GroupBuyEventRule } from '../../../entities/marketing/group-buy-event-rule.entity';
import { GroupBuyEventTeam } from '../../../entities/marketing/group-buy-event-team.entity';
import { PaymentOrder } from '../../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../../entities/marketing/refund-order.entity';
import { defineJob, done } from '../../define-job';
import { closeEndedEvents, closeTeamBatch, expiredTeams, type ClosedBatch } from './group-buy-close-teams';
import type { TeamCursor } from './group-buy-team-walk';
import { refundFailedTeams } from './group-buy-team-refunds';

const HOUR = 3_600_000;

/**
 * Expired teams that did not fill become FAILED in primary-key batches (one transaction each, the
 * rows locked): robot and unpaid orders CANCELLED. Then every paid order of a team failed within
 * `refundRetryHours` that has no refund yet gets one through the refunds path; a refused refund is
 * asked again by later runs within that horizon. Events past `end_time` become CLOSED. Running it
 * twice, or twice at once, changes nothing more: teams are locked and re-checked, refunds keyed.
 */
export const groupBuyCloseTeams = defineJob({
  name: 'group-buy-close-teams',
  queue: 'marketing',
  description: 'Fail OPEN teams past expiry (refund paid members, cancel robots); close events past end_time',
  payload: z.strictObject({
    batchSize: z.number().int().min(1).max(2_000).default(500),
    refundRetryHours: z.number().int().min(1).max(24 * 30).default(24),
  }),
  entities: [GroupBuyEvent, GroupBuyEventTeam, GroupBuyEventRule, GroupBuyEventOrder, PaymentOrder, RefundOrder, DmsBusinessLog],
  options: { attempts: 3, backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 } },
  async handle({ batchSize, refundRetryHours }, ctx) {
    const now = ctx.now();
    const teams: ClosedBatch = { teamsFailed: 0, robotOrdersCancelled: 0, unpaidOrdersCancelled: 0, paidOrdersFailedWithoutRefund: 0 };
    let after: TeamCursor | null = null;
    for (;;) {
      ctx.signal.throwIfAborted();
      const { ids, next } = await expiredTeams(ctx, now, after, batchSize);
      if (ids.length === 0) break;
      const batch = await ctx.db.transaction((m) => closeTeamBatch(m, ctx, ids, now));
      for (const key of Object.keys(teams) as (keyof ClosedBatch)[]) teams[key] += batch[key];
      after = next;
      await ctx.progress(teams.teamsFailed);
    }
    const refunds = await refundFailedTeams(ctx, new Date(now.getTime() - refundRetryHours * HOUR), batchSize);
    const eventsClosed = await closeEndedEvents(ctx, now, batchSize);
    const result = { ...teams, ...refunds, eventsClosed };
    ctx.log.info(result, 'group-buy teams closed');
    return done(result);
  },
});
