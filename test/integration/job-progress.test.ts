import { setTimeout as sleep } from 'node:timers/promises';
import type { Job, JobProgress, QueueEvents } from 'bullmq';
import { z } from 'zod';
import { buildRegistry, defineJob, done } from '../../jobs/define-job';
import type { WorkerPool } from '../../workers/start-workers';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';

const CALLS = 10_000;

/** Reports every item of a known total as fast as it can: the handler's own time is its result. */
const burst = defineJob({
  name: 'test-progress-burst',
  queue: 'messages',
  description: 'test-progress-burst',
  payload: z.object({ key: z.string() }),
  async handle(_p, ctx) {
    const started = performance.now();
    for (let i = 1; i <= CALLS; i++) await ctx.progress(i, CALLS);
    return done({ ms: performance.now() - started });
  },
});

/** Counts without a total for `ms`, reporting every 10 ms. */
const steady = defineJob({
  name: 'test-progress-steady',
  queue: 'messages',
  description: 'test-progress-steady',
  payload: z.object({ ms: z.number() }),
  async handle({ ms }, ctx) {
    let n = 0;
    for (const end = Date.now() + ms; Date.now() < end; await sleep(10)) await ctx.progress(++n);
    return done({ reports: n });
  },
});

interface ProgressEvent {
  data: JobProgress;
  /** Redis's clock when the event was added to the stream, ms. */
  at: number;
}

describe('job progress on BullMQ', () => {
  let hub: TestHub;
  let pool: WorkerPool;
  let events: QueueEvents;
  const progressOf = new Map<string, ProgressEvent[]>();

  beforeAll(async () => {
    hub = await openTestHub(__filename, { registry: buildRegistry([burst, steady]) });
    events = await testQueueEvents('messages', hub.prefix);
    events.on('progress', ({ jobId, data }, id) => {
      const list = progressOf.get(jobId) ?? [];
      list.push({ data, at: Number(id.split('-')[0]) });
      progressOf.set(jobId, list);
    });
    pool = hub.startWorkers(['messages']);
  });
  afterAll(async () => {
    await pool.close();
    await events.close();
    await hub.close();
  });

  /** The job once finished; its completed event comes after every progress event of it on the stream. */
  const finished = async (id: string): Promise<Job> => {
    const job = await hub.queues.get('messages').getJob(id);
    if (!job) throw new Error(`job ${id} vanished`);
    await job.waitUntilFinished(events, 15_000);
    const after = await hub.queues.get('messages').getJob(id);
    if (!after) throw new Error(`job ${id} vanished`);
    return after;
  };

  it(`writes ${CALLS.toLocaleString('en')} reports within a second as at most 2 updates, ending with the final value`, async () => {
    const { id } = await hub.enqueue(burst, { key: 'burst' });
    const job = await finished(id);
    const { ms } = (job.returnvalue as { result: { ms: number } }).result;
    // What this test is about: every report fell within one second.
    expect(ms).toBeLessThan(1_000);
    const updates = progressOf.get(id) ?? [];
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect(updates.length).toBeLessThanOrEqual(2);
    // The first report goes out at once: a running job shows progress from its first call.
    expect(updates[0]?.data).toEqual({ progress: 0, done: 1, total: CALLS });
    expect(updates.at(-1)?.data).toEqual({ progress: 100, done: CALLS, total: CALLS });
    expect(job.progress).toEqual({ progress: 100, done: CALLS, total: CALLS });
  });

  it('writes a count without a total at most once a second while the job runs, the last value at its end', async () => {
    const { id } = await hub.enqueue(steady, { ms: 2_500 });
    const job = await finished(id);
    const { reports } = (job.returnvalue as { result: { reports: number } }).result;
    const updates = progressOf.get(id) ?? [];
    expect(reports).toBeGreaterThan(100);
    // At 0, 1 and 2 s, and at the end: the last is the job's end, which may come sooner.
    expect(updates.length).toBeGreaterThanOrEqual(3);
    expect(updates.length).toBeLessThanOrEqual(4);
    const gaps = updates.slice(1, -1).map((u, i) => u.at - (updates[i] as ProgressEvent).at);
    // Redis's clock, in whole ms, against the worker's: a few ms either way.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(990);
    expect(updates.at(-1)?.data).toEqual({ done: reports });
    expect(job.progress).toEqual({ done: reports });
  });
});
