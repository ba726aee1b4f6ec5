import { z } from 'zod';
import { HubCursor } from '../../../entities/hub/hub-cursor.entity';
import { HubShareFirstReach } from '../../../entities/hub/hub-share-first-reach.entity';
import { HubShareFirstReferral } from '../../../entities/hub/hub-share-first-referral.entity';
import { HubShareResource } from '../../../entities/hub/hub-share-resource.entity';
import { Member } from '../../../entities/marketing/member.entity';
import { MemberChildInfo } from '../../../entities/marketing/member-child-info.entity';
import { ResourceShareInfo } from '../../../entities/marketing/resource-share-info.entity';
import { ShareTracking } from '../../../entities/marketing/share-tracking.entity';
import { defineJob, done } from '../../define-job';
import { foldShareTracking } from './share-fold';

export const SHARE_ENTITIES = [ShareTracking, Member, MemberChildInfo, ResourceShareInfo, HubCursor, HubShareFirstReach, HubShareFirstReferral, HubShareResource];

/** Shared by share-aggregate and share-rebuild: both fold windows the same way. */
export const shareFoldFields = {
  /** share_tracking rows per window (one transaction each). */
  batchSize: z.number().int().min(1).max(200_000).default(50_000),
  /** Rows younger than this are left for a later run: longer than any insert transaction of the platform. */
  lagSeconds: z.number().int().min(0).max(86_400).default(60),
};

/**
 * Folds new share_tracking rows (above the cursor, at or below the safe watermark) into the counters
 * of docs/marketing.md, moving the cursor in each window's transaction: a crash or a second runner never
 * counts a row twice, and a rerun carries on where the last committed window ended.
 */
export const shareAggregate = defineJob({
  name: 'share-aggregate',
  queue: 'marketing',
  description: 'Fold new share_tracking rows below the safe watermark into the share counters',
  payload: z.strictObject({ ...shareFoldFields, maxWindows: z.number().int().min(1).optional() }),
  entities: SHARE_ENTITIES,
  options: { attempts: 5, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 } },
  async handle({ batchSize, lagSeconds, maxWindows }, ctx) {
    const result = await foldShareTracking(ctx.db, {
      batchSize,
      lagSeconds,
      maxWindows,
      now: ctx.now(),
      signal: ctx.signal,
      // Ids walked of those up to the watermark: auto-increment ids are dense, so this is how far
      // along the run is, known without a query, and 100% exactly when the watermark is reached.
      onWindow: (total) => ctx.progress(Number(BigInt(total.to) - BigInt(total.from)), Number(BigInt(total.safeWatermark) - BigInt(total.from))),
    });
    ctx.log.info(result, 'share_tracking folded into counters');
    return done(result);
  },
});
