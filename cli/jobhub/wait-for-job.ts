import { setTimeout as sleep } from 'node:timers/promises';
import type { Job, Queue } from 'bullmq';

/** How a job ended, as far as `--wait` saw it. */
export type WaitOutcome =
  | { state: 'completed'; returnValue: unknown }
  | { state: 'failed'; failedReason: string }
  | { state: 'gone' }
  | { state: 'timeout'; lastState: string };

/** Reads are cheap and a reconciliation takes seconds to minutes: once a second is prompt enough. */
const POLL_MS = 1_000;

/**
 * Waits until the job is completed or has failed for good (a failed attempt with attempts left is
 * `delayed` or `waiting`, and waited for). Polls its state rather than listening to queue events:
 * an event sent before the listener was ready would be missed, a state is not.
 */
export async function waitForJob(queue: Queue, id: string, timeoutMs: number): Promise<WaitOutcome> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await queue.getJobState(id);
    if (state === 'completed' || state === 'failed') {
      const job = (await queue.getJob(id)) as Job | undefined;
      if (!job) return { state: 'gone' };
      return state === 'completed' ? { state, returnValue: job.returnvalue as unknown } : { state, failedReason: job.failedReason || '(no reason given)' };
    }
    if (state === 'unknown') return { state: 'gone' };
    if (Date.now() >= deadline) return { state: 'timeout', lastState: state };
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
}
