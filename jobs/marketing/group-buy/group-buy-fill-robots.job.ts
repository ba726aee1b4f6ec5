import { z } from 'zod';
import { GroupBuyEvent } from '../../../entities/marketing/group-buy-event.entity';
import { GroupBuyEventOrder } from '../../../entities/marketing/group-buy-event-order.entity';
import { GroupBuyEventRobotRecord } from '../../../entities/marketing/group-buy-event-robot-record.entity';
import { GroupBuyEventRobot } from '../../../entities/marketing/group-buy-event-robot.entity';
import { GroupBuyEventRule } from '../../../entities/marketing/group-buy-event-rule.entity';
import { GroupBuyEventTeam } from '../../../entities/marketing/group-buy-event-team.entity';
import { Notify } from '../../../entities/customer-service/notify.entity';
import { HubMessageDelivery } from '../../../entities/hub/hub-message-delivery.entity';
import { defineJob, done } from '../../define-job';
import type { TeamCursor } from './group-buy-team-walk';
import { fillCandidates, fillTeam, widestRobotWindow } from './group-buy-fill-robots';
import { enqueueOwedMessages } from '../../messaging/owed-messages';

/**
 * Completes OPEN teams near expiry with robots where the event's rule allows it, one transaction
 * per team with the team row locked, so a member joining at the same moment never overfills it.
 * A second run (or two at once) finds the team SUCCESS, or waits for its lock and then does.
 */
export const groupBuyFillRobots = defineJob({
  name: 'group-buy-fill-robots',
  queue: 'marketing',
  description: 'Fill OPEN teams near expiry with robots where the rule allows, then mark them SUCCESS',
  payload: z.strictObject({ batchSize: z.number().int().min(1).max(5_000).default(500) }),
  entities: [GroupBuyEvent, GroupBuyEventTeam, GroupBuyEventRule, GroupBuyEventRobot, GroupBuyEventRobotRecord, GroupBuyEventOrder, Notify, HubMessageDelivery],
  options: { attempts: 3, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 } },
  async handle({ batchSize }, ctx) {
    const now = ctx.now();
    const counts = { teamsFilled: 0, robotsAdded: 0, teamsCompleted: 0, skipped: 0, messagesEnqueued: 0 };
    const windowMinutes = await widestRobotWindow(ctx);
    if (windowMinutes === null) return done(counts);
    let after: TeamCursor | null = null;
    for (;;) {
      ctx.signal.throwIfAborted();
      const { ids, next } = await fillCandidates(ctx, now, windowMinutes, after, batchSize);
      if (ids.length === 0) break;
      for (const teamId of ids) {
        const outcome = await ctx.db.transaction((m) => fillTeam(m, ctx, teamId, now));
        if (outcome.kind === 'skipped') {
          counts.skipped += 1;
          ctx.log.debug({ teamId, reason: outcome.reason }, 'team not filled');
          continue;
        }
        counts.teamsFilled += 1;
        counts.robotsAdded += outcome.robots;
        if (outcome.success.completed) counts.teamsCompleted += 1;
        counts.messagesEnqueued += await enqueueOwedMessages(ctx, outcome.success.messages);
      }
      after = next;
      await ctx.progress(counts.teamsFilled + counts.skipped);
    }
    ctx.log.info(counts, 'group-buy robots filled');
    return done(counts);
  },
});
