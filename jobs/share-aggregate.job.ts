import { z } from 'zod';
import { defineJob, skipped } from './define-job';

export const shareAggregate = defineJob({
  name: 'share-aggregate',
  queue: 'marketing',
  description: 'Fold new share_tracking rows below the safe watermark into the share counters',
  payload: z.strictObject({}),
  async handle() {
    return skipped('not built yet');
  },
});
