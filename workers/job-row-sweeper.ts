import type { Enqueue } from '../jobs/context';
import { createEnqueue } from './enqueue';
import type { QueueName } from '../lib/queue-names';
import type { SweepScope, Sweeper } from './sweeper';

/** Rows read per batch, by primary key. */
export const SWEEP_BATCH_SIZE = 500;

/** One row of unfinished work, standing for exactly one job. */
export interface PendingRow {
  id: string;
}

export interface JobRowSweeperSpec<R extends PendingRow> {
  name: string;
  queue: QueueName;
  /** The next batch after `afterId`, by id: rows MySQL says are unfinished and older than `scope.periodMs`. */
  list(scope: SweepScope, afterId: string, limit: number): Promise<R[]>;
  jobId(row: R): string;
  /** Adds the row's job under `jobId(row)`: should anyone add it first, BullMQ keeps the one it has. */
  add(enqueue: Enqueue, row: R, scope: SweepScope): Promise<unknown>;
}

/** One pipeline: does each job's hash exist, and is it in the failed set. */
async function jobStates({ redis, queues }: SweepScope, queueName: QueueName, jobIds: readonly string[]): Promise<('missing' | 'failed' | 'present')[]> {
  const queue = queues.get(queueName);
  const failedKey = queue.toKey('failed');
  const pipeline = redis.pipeline();
  for (const id of jobIds) pipeline.exists(queue.toKey(id)).zscore(failedKey, id);
  const replies = await pipeline.exec();
  if (!replies || replies.length !== jobIds.length * 2) throw new Error('Redis answered the sweep pipeline only in part');
  return jobIds.map((_, i) => {
    const [existsErr, exists] = replies[i * 2] ?? [];
    const [failedErr, failedScore] = replies[i * 2 + 1] ?? [];
    if (existsErr) throw existsErr;
    if (failedErr) throw failedErr;
    if (exists === 0) return 'missing';
    return failedScore !== null ? 'failed' : 'present';
  });
}

/**
 * A sweeper for a table whose unfinished rows each stand for one job with a deterministic id: a
 * job Redis no longer holds (flushed, or never added) is added again; one that failed for good is
 * retried, since its row says the work is still owed.
 */
export function jobRowSweeper<R extends PendingRow>(spec: JobRowSweeperSpec<R>): Sweeper {
  return {
    name: spec.name,
    queue: spec.queue,
    everyMs: 60_000,
    async sweep(scope) {
      const enqueue = createEnqueue(scope.queues);
      const queue = scope.queues.get(spec.queue);
      let restored = 0;
      for (let afterId = '0'; !scope.signal.aborted; ) {
        const rows = await spec.list(scope, afterId, SWEEP_BATCH_SIZE);
        const states = rows.length > 0 ? await jobStates(scope, spec.queue, rows.map(spec.jobId)) : [];
        for (const [i, row] of rows.entries()) {
          if (states[i] === 'missing') {
            await spec.add(enqueue, row, scope);
            restored += 1;
          } else if (states[i] === 'failed') {
            const job = await queue.getJob(spec.jobId(row));
            if (job && (await job.isFailed())) {
              await job.retry('failed');
              restored += 1;
            }
          }
        }
        const last = rows.at(-1);
        if (!last || rows.length < SWEEP_BATCH_SIZE) break;
        afterId = String(last.id);
      }
      return restored;
    },
  };
}
