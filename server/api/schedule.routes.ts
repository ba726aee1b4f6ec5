import type { FastifyInstance } from 'fastify';
import cron, { type ScheduledTask } from 'node-cron';
import { z } from 'zod';
import { CLOCK_TIMEZONE, SCHEDULES, type Schedule } from '../../jobs/schedules';
import { formatBeijing } from '../../lib/time';
import { slotJobId } from '../../workers/clock';
import type { QueueSet } from '../../workers/queues';
import { withRedisTimeout } from '../http-errors';
import { boardJobPath } from './lookup.routes';
import { opsAdmission, opsForbiddenAnswer, type OpsAccessDeps } from './ops-access';
import { BEARER, bearerAnswers, documented, unavailableAnswer } from './openapi';

export interface ScheduleRouteDeps extends OpsAccessDeps {
  queues: QueueSet;
  /** The cron table the clock runs; `jobs/schedules.ts` when not given. */
  schedules?: readonly Schedule[];
}

const MINUTE_MS = 60_000;
/** How far back the last slot is looked for: past any weekly pattern. */
const LOOKBACK_MS = 8 * 24 * 3_600_000;

const slotView = z.object({
  at: z.string().describe('ISO 8601'),
  beijing: z.string().describe('the same instant as `YYYY-MM-DD HH:mm:ss` in Beijing time'),
  jobId: z.string().describe('the slot\'s job id, `<job>@<yyyyMMddHHmm[ss]>`: the same in every clock'),
});
const entryView = z.object({
  job: z.string(),
  queue: z.string(),
  cron: z.string().describe('node-cron: 5 fields, or 6 with seconds first'),
  timezone: z.string(),
  nextSlot: slotView.nullable(),
  lastSlot: slotView
    .extend({
      state: z.string().nullable().describe('the job\'s BullMQ state; null when Redis no longer holds it (retention) or it was never enqueued'),
      board: z.string().describe('the job on the dashboard'),
    })
    .nullable()
    .describe('the latest slot at or before now'),
});
const scheduleSchema = {
  summary: 'The clock\'s schedule: every cron entry with its next slot and the state of its last one (ops)',
  tags: ['ops'],
  security: BEARER,
  response: {
    200: z.object({ now: z.string().describe('ISO 8601'), schedules: z.array(entryView) }).describe('the cron table, in its order'),
    ...bearerAnswers,
    403: opsForbiddenAnswer,
    503: unavailableAnswer,
  },
};

const withSecondsOf = (pattern: string): boolean => pattern.trim().split(/\s+/).length === 6;

/**
 * The latest slot at or before `now`, by node-cron's own matcher (so its reading of the pattern and
 * time zone is the clock's): minute by minute back, each minute's pattern seconds latest first.
 * A matcher call costs a time-zone conversion, so minutes whose minute of the hour the pattern
 * never names are passed over: Beijing's offset is whole hours, so that minute reads the same in UTC.
 */
function lastSlot(task: ScheduledTask, fields: { second: readonly number[]; minute: readonly number[] }, now: Date): Date | null {
  const seconds = [...fields.second].sort((a, b) => b - a);
  const minutes = new Set(fields.minute);
  const end = Math.floor(now.getTime() / 1_000) * 1_000;
  for (let minute = end - (end % MINUTE_MS); minute > end - LOOKBACK_MS; minute -= MINUTE_MS) {
    if (!minutes.has(new Date(minute).getUTCMinutes())) continue;
    for (const second of seconds) {
      const at = minute + second * 1_000;
      if (at <= end && task.match(new Date(at))) return new Date(at);
    }
  }
  return null;
}

const slot = (job: string, at: Date, withSeconds: boolean): z.infer<typeof slotView> => ({
  at: at.toISOString(),
  beijing: formatBeijing(at),
  jobId: slotJobId(job, at, withSeconds),
});

/**
 * `GET /api/v1/schedule`: what the clock enqueues and when. Slot job ids are deterministic
 * (`slotJobId`), so the last slot's job is read straight from its queue.
 */
export function registerScheduleRoutes(app: FastifyInstance, deps: ScheduleRouteDeps): void {
  const admitted = opsAdmission(deps, 'read the schedule');
  const schedules = deps.schedules ?? SCHEDULES;

  async function describe(schedule: Schedule, at: Date): Promise<z.infer<typeof entryView>> {
    const { name, queue } = schedule.job;
    const withSeconds = withSecondsOf(schedule.cron);
    const task = cron.createTask(schedule.cron, () => undefined, { timezone: CLOCK_TIMEZONE });
    try {
      // getNextRun() answers null for a task never started; getNextRuns reads the pattern alone.
      const next = task.getNextRuns(1)[0];
      const last = lastSlot(task, cron.parse(schedule.cron), at);
      let lastView: z.infer<typeof entryView>['lastSlot'] = null;
      if (last) {
        const view = slot(name, last, withSeconds);
        const job = await withRedisTimeout(deps.queues.get(queue).getJob(view.jobId));
        const state = job ? await withRedisTimeout(job.getState()) : null;
        lastView = { ...view, state, board: boardJobPath(queue, view.jobId) };
      }
      return { job: name, queue, cron: schedule.cron, timezone: CLOCK_TIMEZONE, nextSlot: next ? slot(name, next, withSeconds) : null, lastSlot: lastView };
    } finally {
      await task.destroy();
    }
  }

  app.get('/api/v1/schedule', documented(scheduleSchema), async (request, reply) => {
    if (!(await admitted(request, reply))) return reply;
    // The real clock, as node-cron's next run and the clock process read it, whatever the app's `now`.
    const at = new Date();
    return { now: at.toISOString(), schedules: await Promise.all(schedules.map((s) => describe(s, at))) };
  });
}
