import { z } from 'zod';
import { HubCursor } from '../../entities/hub/hub-cursor.entity';
import { FamilyMembers } from '../../entities/marketing/family-members.entity';
import { Member } from '../../entities/marketing/member.entity';
import { defineJob, done, type JobResult } from '../define-job';
import { feedRunFields } from './school-sync.job';
import { applyParentStudents, applyStudentPage } from './family-page';
import { runFeed, type SyncCounts } from './feed-run';
import { hashedId } from '../../lib/hashed-id';

/** The hub_cursor row of the students feed. */
export const FAMILY_CURSOR = 'family-sync-students';

const payload = z
  .strictObject({
    /** With a key: one guardian's members now. Without: the nightly run over the students feed. */
    buildType: z.enum(['MOBILE', 'PARENTID']).optional(),
    mobile: z.string().regex(/^1\d{10}$/, 'expected an 11-digit mainland mobile').optional(),
    parentId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected the school system parent id').optional(),
    ...feedRunFields,
  })
  .superRefine((p, ctx) => {
    const issue = (path: string, message: string): void => ctx.addIssue({ code: 'custom', path: [path], message });
    if (p.buildType === 'MOBILE' && !p.mobile) issue('mobile', 'required when buildType is MOBILE');
    if (p.buildType === 'PARENTID' && !p.parentId) issue('parentId', 'required when buildType is PARENTID');
    if (p.buildType !== 'MOBILE' && p.mobile) issue('mobile', 'only with buildType MOBILE');
    if (p.buildType !== 'PARENTID' && p.parentId) issue('parentId', 'only with buildType PARENTID');
  });

type Payload = z.output<typeof payload>;

/** One run per guardian key, one nightly run; the mobile is hashed so no phone number stands in Redis keys. */
export function familyDeduplicationId(p: Payload): string {
  if (p.buildType === 'MOBILE') return hashedId('family-sync-mobile-', p.mobile ?? '', 32);
  if (p.buildType === 'PARENTID') return `family-sync-parent-${p.parentId ?? ''}`;
  return 'family-sync-all';
}

/**
 * A member's children from the school system into `family_members` (third_code ZYEDU_TMS, relation
 * CHILDREN): on demand for one guardian (by mobile or parent id), or nightly for every student the
 * system changed since the cursor. Rows of other third_codes are never touched.
 */
export const familySync = defineJob({
  name: 'family-sync',
  queue: 'sync',
  description: "Pull members' children from the school system (ZYEDU_TMS) into family_members: one guardian, or every change since the cursor",
  payload,
  entities: [FamilyMembers, Member, HubCursor],
  options: { attempts: 5, backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 } },
  deduplicationId: familyDeduplicationId,
  async handle(p, ctx): Promise<JobResult<SyncCounts>> {
    const tms = ctx.integrations.schoolTms;
    const buildType = p.buildType;
    if (buildType) {
      const key = (buildType === 'MOBILE' ? p.mobile : p.parentId) ?? '';
      const students = await tms.studentsOfParent(buildType === 'MOBILE' ? { mobile: key } : { parentId: key });
      const result = await ctx.db.transaction('READ COMMITTED', (m) => applyParentStudents(m, buildType, key, students, ctx.now()));
      ctx.log.info({ buildType, students: students.length, ...result }, 'family synced for one guardian');
      return done({ ...result, students: students.length });
    }
    const result = await runFeed(ctx.db, {
      cursor: FAMILY_CURSOR,
      overlapMs: p.overlapSeconds * 1_000,
      pageSize: p.pageSize ?? ctx.config.schoolTms.pageSize,
      maxPages: p.maxPages,
      now: ctx.now(),
      signal: ctx.signal,
      fetch: (from, limit) => tms.students(from, limit),
      apply: (m, students) => applyStudentPage(m, students, ctx.now()),
      onPage: (total) => ctx.progress(total.records),
    });
    ctx.log.info(result, 'families synced from the students feed');
    return done(result);
  },
});
