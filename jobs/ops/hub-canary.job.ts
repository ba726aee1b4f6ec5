import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { writeOnce } from '../../lib/errors';
import { defineJob, done, skipped } from '../define-job';

/** How often a holding canary looks at `ctx.signal`: a shutdown hands it back within this. */
const STEP_MS = 100;

/**
 * An end-to-end check for ops: enqueue → worker → MySQL. It holds for `holdMs` (checking the
 * shutdown signal at every step, as long jobs do between batches), then writes one `hub_canary`
 * row under `key`. Run twice, or by two workers at once, it still writes one row.
 */
export const hubCanary = defineJob({
  name: 'hub-canary',
  queue: 'ops',
  description: 'End-to-end check: hold holdMs, then write one hub_canary row per key',
  payload: z.strictObject({
    key: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, 'letters, digits, ".", "_" or "-", at most 100'),
    holdMs: z.number().int().min(0).max(600_000).default(0),
  }),
  entities: [HubCanary],
  options: { attempts: 3 },
  async handle({ key, holdMs }, ctx) {
    const steps = Math.ceil(holdMs / STEP_MS);
    for (let step = 0; step < steps; step++) {
      await sleep(Math.min(STEP_MS, holdMs - step * STEP_MS), undefined, { signal: ctx.signal });
      if (step % 10 === 0) await ctx.progress(step, steps);
    }
    ctx.signal.throwIfAborted();
    // The primary key (canary_key) is the idempotency key: a second run finds the work done.
    const row = { canaryKey: key, jobId: ctx.job.id, attempt: ctx.job.attempt, createdTime: ctx.now() };
    if (!(await writeOnce('PRIMARY', () => ctx.db.getRepository(HubCanary).insert(row)))) return skipped(`canary ${key} already written`);
    ctx.log.info({ canary: key }, 'canary written');
    return done({ key, heldMs: holdMs });
  },
});
