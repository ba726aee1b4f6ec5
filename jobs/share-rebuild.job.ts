import { z } from 'zod';
import { defineJob, skipped } from './define-job';

export const shareRebuild = defineJob({
  name: 'share-rebuild',
  queue: 'marketing',
  description: 'Recompute every share counter from share_tracking (repairs)',
  payload: z.strictObject({}),
  async handle() {
    return skipped('not built yet');
  },
});
