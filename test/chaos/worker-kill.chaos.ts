import type { QueueEvents } from 'bullmq';
import type { DataSource } from 'typeorm';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { hubCanary } from '../../jobs/ops/hub-canary.job';
import { createEnqueue } from '../../workers/enqueue';
import type { QueueSet } from '../../workers/queues';
import { byScale, recordRecovery } from '../support/chaos';
import { childEnv } from '../support/env';
import { openProcessHarness, type ProcessHarness } from '../support/process-harness';
import { spawnBuilt, type HubProcess } from '../support/processes';
import { until } from '../support/wait';

const SCENARIO = 'worker-kill';
/** The lock, and so the stalled-check interval: the production default in full, seconds in short. */
const LOCK_MS = byScale(2_000, 30_000);
/** A killed worker's job waits for its lock to lapse and for the next stalled check: two intervals at most. */
const PICKUP_MS = 2 * LOCK_MS + 20_000;

/**
 * Deploys and crashes, with real worker processes (dist/workers/worker.main.js): a job running when
 * its worker goes away is run again by another and its effect, one hub_canary row, happens once.
 */
describe('worker processes that stop mid-job', () => {
  let harness: ProcessHarness;
  let db: DataSource;
  let queues: QueueSet;
  let events: QueueEvents;
  /** Every job id the queue reported completed, stalled or failed: the ledger the assertions read. */
  const completed: string[] = [];
  const stalled: string[] = [];
  const failed: string[] = [];

  beforeAll(async () => {
    harness = await openProcessHarness(__filename, 'ops', [HubCanary]);
    ({ db, queues, events } = harness);
    events.on('completed', ({ jobId }) => completed.push(jobId));
    events.on('stalled', ({ jobId }) => stalled.push(jobId));
    events.on('failed', ({ jobId }) => failed.push(jobId));
  });
  afterAll(() => harness.close());

  /**
   * Every worker of the file has the same lock: BullMQ runs one stalled check per interval across a
   * queue's workers, so one with a longer interval would hold the others' checks back.
   */
  const startWorker = async (env: Record<string, string> = {}): Promise<HubProcess> => {
    const worker = spawnBuilt('workers/worker.main.js', childEnv({ HUB_QUEUE_PREFIX: harness.prefix, HUB_QUEUES: 'ops', HUB_JOB_LOCK_MS: String(LOCK_MS), ...env }));
    await worker.waitFor(/"msg":"workers started"/, 20_000);
    return worker;
  };
  const rows = (key: string): Promise<HubCanary[]> => db.getRepository(HubCanary).findBy({ canaryKey: key });
  const holding = async (id: string): Promise<boolean> => ((await queues.get('ops').getJob(id))?.progress ?? 0) !== 0;
  /** When the job completed, by the worker's clock (same machine): the end of a recovery. */
  const finishedOn = async (id: string): Promise<number> => (await queues.get('ops').getJob(id))?.finishedOn ?? Number.NaN;
  const times = (id: string, ids: string[]): number => ids.filter((x) => x === id).length;

  it('SIGTERM hands a long job back at once; another worker finishes it, once', async () => {
    const first = await startWorker({ HUB_SHUTDOWN_GRACE_MS: '20000' });
    const job = await createEnqueue(queues)(hubCanary, { key: 'sigterm', holdMs: 3_000 });
    await until('the first worker holds the canary', () => holding(job.id), 15_000);

    const termAt = Date.now();
    first.child.kill('SIGTERM');
    expect(await first.exited()).toBe(0);
    expect(first.stdout()).toMatch(new RegExp(`"jobId":"${job.id}".*"reason":"stopped for the shutdown".*"msg":"job handed back to wait"`));
    // Handed back, not left active for stalled detection, and no attempt used.
    const handedBack = await queues.get('ops').getJob(job.id);
    expect(await handedBack?.getState()).toBe('waiting');
    expect(handedBack?.attemptsMade).toBe(0);
    const handedBackMs = Date.now() - termAt;

    const second = await startWorker();
    try {
      const result = await (await queues.get('ops').getJob(job.id))?.waitUntilFinished(events, 20_000);
      expect(result).toEqual({ status: 'done', result: { key: 'sigterm', heldMs: 3_000 } });
    } finally {
      second.child.kill('SIGTERM');
    }
    expect(await second.exited()).toBe(0);
    const recoveryMs = (await finishedOn(job.id)) - termAt;
    expect(await rows('sigterm')).toHaveLength(1);
    expect(times(job.id, completed)).toBe(1);
    expect(stalled).not.toContain(job.id);
    expect(failed).not.toContain(job.id);
    recordRecovery({
      scenario: SCENARIO,
      fault: 'SIGTERM during a 3 s job',
      recoveryMs,
      detail: `handed back in ${handedBackMs} ms, rows 1, completed 1, stalled 0, failed 0 (includes a new worker's start and the 3 s hold)`,
    });
  }, byScale(60_000, 120_000));

  it('SIGKILL mid-job: the job is picked up again after its lock expires and completes once', async () => {
    const doomed = await startWorker();
    const job = await createEnqueue(queues)(hubCanary, { key: 'sigkill', holdMs: 1_500 });
    await until('the doomed worker holds the canary', () => holding(job.id), 15_000);
    const killAt = Date.now();
    doomed.child.kill('SIGKILL');
    expect(await doomed.exited()).toBeNull();
    expect(await rows('sigkill')).toHaveLength(0);

    const survivor = await startWorker();
    try {
      const result = await (await queues.get('ops').getJob(job.id))?.waitUntilFinished(events, PICKUP_MS);
      expect(result).toEqual({ status: 'done', result: { key: 'sigkill', heldMs: 1_500 } });
    } finally {
      survivor.child.kill('SIGTERM');
    }
    expect(await survivor.exited()).toBe(0);
    const recoveryMs = (await finishedOn(job.id)) - killAt;
    expect(stalled).toContain(job.id);
    expect(await rows('sigkill')).toHaveLength(1);
    expect(times(job.id, completed)).toBe(1);
    expect(failed).not.toContain(job.id);
    recordRecovery({
      scenario: SCENARIO,
      fault: `SIGKILL during a 1.5 s job (lock ${LOCK_MS / 1000} s)`,
      recoveryMs,
      detail: `rows 1, completed 1, stalled ${times(job.id, stalled)}, failed 0`,
    });
  }, byScale(60_000, 180_000));

  it('leaves nothing stuck active, waiting or failed', async () => {
    expect(await queues.get('ops').getJobCounts('active', 'wait', 'delayed', 'failed', 'prioritized')).toEqual({
      active: 0,
      wait: 0,
      delayed: 0,
      failed: 0,
      prioritized: 0,
    });
    expect(failed).toEqual([]);
    expect((await db.getRepository(HubCanary).find()).map((r) => r.canaryKey).sort()).toEqual(['sigkill', 'sigterm']);
  });
});
