import { z } from 'zod';
import { HubCursor } from '../../entities/hub/hub-cursor.entity';
import { FeederSchool } from '../../entities/marketing/feeder-school.entity';
import { defineJob, done } from '../define-job';
import { runFeed } from './feed-run';
import { applySchoolPage } from './school-page';

/** The hub_cursor row of the schools feed. */
export const SCHOOL_CURSOR = 'school-sync';

/** Shared by school-sync and family-sync: how far back each run re-reads, and a bound on its pages. */
export const feedRunFields = {
  /** Records the source commits late carry an older updated_at: each run re-reads this much before its cursor. */
  overlapSeconds: z.number().int().min(0).max(86_400).default(300),
  /** Records per page; the configured SCHOOL_TMS_PAGE_SIZE when absent. */
  pageSize: z.number().int().min(1).max(500).optional(),
  maxPages: z.number().int().min(1).optional(),
};

/**
 * Pulls the schools the school system (ZYEDU_TMS) changed since the cursor into `feeder_school`,
 * upserted by `third_id`; deleted ones are soft-deleted. One run at a time per queue (BullMQ
 * deduplication, every producer); the cursor moves in each page's transaction.
 */
export const schoolSync = defineJob({
  name: 'school-sync',
  queue: 'sync',
  description: 'Pull schools changed at the school system (ZYEDU_TMS) into feeder_school',
  payload: z.strictObject(feedRunFields),
  entities: [FeederSchool, HubCursor],
  options: { attempts: 5, backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 } },
  deduplicationId: () => 'school-sync',
  async handle({ overlapSeconds, pageSize, maxPages }, ctx) {
    const tms = ctx.integrations.schoolTms;
    const result = await runFeed(ctx.db, {
      cursor: SCHOOL_CURSOR,
      overlapMs: overlapSeconds * 1_000,
      pageSize: pageSize ?? ctx.config.schoolTms.pageSize,
      maxPages,
      now: ctx.now(),
      signal: ctx.signal,
      fetch: (from, limit) => tms.schools(from, limit),
      apply: (m, schools) => applySchoolPage(m, schools, ctx.now()),
      onPage: (total) => ctx.progress(total.records),
    });
    ctx.log.info(result, 'schools synced');
    return done(result);
  },
});
