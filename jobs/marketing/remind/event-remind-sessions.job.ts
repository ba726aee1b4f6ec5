import { z } from 'zod';
import { HubMessageDelivery } from '../../../entities/hub/hub-message-delivery.entity';
import { HubSmsTemplate } from '../../../entities/hub/hub-sms-template.entity';
import { EventOrder } from '../../../entities/marketing/event-order.entity';
import { EventSession } from '../../../entities/marketing/event-session.entity';
import { MarketingEvent } from '../../../entities/marketing/event.entity';
import { Member } from '../../../entities/marketing/member.entity';
import { defineJob, done } from '../../define-job';
import { checkTemplate, type TemplateCheck } from './remind-common';
import { remindSessionOrders, sessionParams, upcomingSessions, type UpcomingSession } from './remind-sessions';

const HOUR_MS = 3_600_000;
/** Sessions read per page; the lead window holds a day's sessions at most. */
const SESSION_PAGE = 500;
/** Sessions listed by id in the result when skipped, enough for ops to find the event. */
const LISTED_SKIPS = 20;

export interface SkippedSession {
  sessionId: string;
  reason: string;
}

/**
 * Owes one SMS per remindable order (JOINED or SUCCESS, paid or free) of every event session
 * starting within the lead, with the event's template (`event.sms_template_id`, a
 * `hub_sms_template` key), once per order ever (delivery key `event-remind-<session>-<order>`).
 * A session whose event names no usable template is skipped with the reason, owing nothing, so
 * the reminders still go out if the template is fixed before the session starts.
 */
export const eventRemindSessions = defineJob({
  name: 'event-remind-sessions',
  queue: 'marketing',
  description: 'Remind event orders before their session starts, once per order',
  payload: z.strictObject({
    leadHours: z.number().int().min(1).max(168).default(24),
    batchSize: z.number().int().min(1).max(10_000).default(2_000),
  }),
  entities: [EventSession, MarketingEvent, EventOrder, Member, HubMessageDelivery, HubSmsTemplate],
  options: { attempts: 5, backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 } },
  async handle(p, ctx) {
    const now = ctx.now();
    const checks = new Map<string, TemplateCheck>();
    const templateOf = async (session: UpcomingSession): Promise<TemplateCheck & { key?: string }> => {
      if (!session.templateKey) return { ok: false, reason: 'the event names no sms_template_id' };
      let check = checks.get(session.templateKey);
      if (!check) checks.set(session.templateKey, (check = await checkTemplate(ctx.db, session.templateKey, sessionParams(session, null))));
      return { ...check, key: session.templateKey };
    };
    let sessions = 0;
    let recorded = 0;
    let withoutPhone = 0;
    let skippedCount = 0;
    const skippedSessions: SkippedSession[] = [];
    for (let afterId = '0'; ; ) {
      const page = await upcomingSessions(ctx.db, now, p.leadHours * HOUR_MS, afterId, SESSION_PAGE);
      if (page.length === 0) break;
      for (const session of page) {
        sessions += 1;
        const template = await templateOf(session);
        if (!template.ok || !template.key) {
          skippedCount += 1;
          if (skippedSessions.length < LISTED_SKIPS) skippedSessions.push({ sessionId: session.id, reason: template.ok ? 'no template' : template.reason });
          continue;
        }
        const count = await remindSessionOrders(ctx, session, template.key, p.batchSize);
        recorded += count.recorded;
        withoutPhone += count.withoutPhone;
      }
      afterId = page[page.length - 1]?.id ?? afterId;
      await ctx.progress(sessions);
    }
    if (skippedCount > 0) ctx.log.error({ skippedCount, skippedSessions }, 'event sessions not reminded: no usable SMS template');
    ctx.log.info({ sessions, recorded, withoutPhone, skippedCount }, 'event session reminders owed');
    return done({ sessions, recorded, withoutPhone, skippedSessions: skippedCount, skipped: skippedSessions });
  },
});
