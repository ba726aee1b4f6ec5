import { z } from 'zod';
import { HubMessageDelivery } from '../../../entities/hub/hub-message-delivery.entity';
import { HubSmsTemplate } from '../../../entities/hub/hub-sms-template.entity';
import { GroupBuyEventOrder } from '../../../entities/marketing/group-buy-event-order.entity';
import { GroupBuyEvent } from '../../../entities/marketing/group-buy-event.entity';
import { Member } from '../../../entities/marketing/member.entity';
import { defineJob, done, skipped } from '../../define-job';
import { checkTemplate } from './remind-common';
import { dueGroupBuyEvents, remindEventOrders } from './remind-group-buy';

const HOUR_MS = 3_600_000;

/** Every parameter a group-buy reminder carries; the template uses the ones its text needs. */
const SAMPLE_PARAMS = { eventName: '', beginTime: '', endTime: '', code: '' };

/**
 * Owes one SMS per paid (or free) real member's order of each group-buy event whose reminder time
 * (begin_time + remind_hours, or end_time − remind_hours) has come, once per order ever
 * (delivery key `group-buy-remind-<event>-<order>`). A reminder older than the catch-up window, or
 * for an event already ended, is not sent: it would arrive too late to mean anything.
 */
export const groupBuyRemind = defineJob({
  name: 'group-buy-remind',
  queue: 'marketing',
  description: 'Remind group-buy members per the event remind_hours / remind_time_type, once per order',
  payload: z.strictObject({
    templateKey: z.string().min(1).max(64).default('group-buy-remind'),
    catchUpHours: z.number().int().min(1).max(168).default(24),
    batchSize: z.number().int().min(1).max(10_000).default(5_000),
  }),
  entities: [GroupBuyEvent, GroupBuyEventOrder, Member, HubMessageDelivery, HubSmsTemplate],
  options: { attempts: 5, backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 } },
  async handle(p, ctx) {
    const events = await dueGroupBuyEvents(ctx.db, ctx.now(), p.catchUpHours * HOUR_MS);
    if (events.length === 0) return done({ events: 0, recorded: 0, withoutPhone: 0 });
    const template = await checkTemplate(ctx.db, p.templateKey, SAMPLE_PARAMS);
    if (!template.ok) {
      // Owed nothing: once the template is fixed, the next run inside the window sends them.
      ctx.log.error({ templateKey: p.templateKey, events: events.map((e) => e.id) }, `group-buy reminders held back: ${template.reason}`);
      return skipped(`template ${p.templateKey}: ${template.reason}`);
    }
    let recorded = 0;
    let withoutPhone = 0;
    for (const [i, event] of events.entries()) {
      const count = await remindEventOrders(ctx, event, p.templateKey, p.batchSize);
      recorded += count.recorded;
      withoutPhone += count.withoutPhone;
      await ctx.progress(i + 1, events.length);
    }
    ctx.log.info({ events: events.length, recorded, withoutPhone }, 'group-buy reminders owed');
    return done({ events: events.length, recorded, withoutPhone });
  },
});
