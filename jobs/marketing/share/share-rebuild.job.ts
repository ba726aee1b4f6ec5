import { z } from 'zod';
import { defineJob, done } from '../../define-job';
import { foldShareTracking } from './share-fold';
import { resetShareCounters } from './share-reset';
import { SHARE_ENTITIES, shareFoldFields } from './share-aggregate.job';

/**
 * Repairs: zeroes every share counter, forgets the first-time facts, resets the cursor, then folds
 * all of share_tracking again in the same windows share-aggregate uses. Counters read low until it
 * finishes. A crash part-way leaves the cursor where the last window committed: share-aggregate (or
 * a rerun of this job, which starts over) finishes the work.
 */
export const shareRebuild = defineJob({
  name: 'share-rebuild',
  queue: 'marketing',
  description: 'Recompute every share counter from share_tracking (repairs)',
  payload: z.strictObject(shareFoldFields),
  entities: SHARE_ENTITIES,
  options: { attempts: 3, backoff: { type: 'exponential', delay: 30_000 } },
  async handle({ batchSize, lagSeconds }, ctx) {
    const now = ctx.now();
    const reset = await resetShareCounters(ctx.db, now);
    ctx.log.info(reset, 'share counters reset');
    const folded = await foldShareTracking(ctx.db, { batchSize, lagSeconds, now, signal: ctx.signal, onWindow: (total) => ctx.progress(total.rows) });
    return done({ reset, ...folded });
  },
});
