import type { DataSource } from 'typeorm';
import { HubOutbox } from '../entities/hub/hub-outbox.entity';
import {
  addByQueue,
  bigIds,
  markOutboxRowsFailed,
  outboxJobId,
  prepareOutboxRows,
  selectOutboxRows,
  type OutboxFailure,
  type OutboxRow,
} from './outbox-rows';
import type { SweepScope, Sweeper } from './sweeper';

/**
 * hub_outbox rows ENQUEUED whose job Redis no longer holds. The runner marks a row DONE while its
 * job is still active, and FAILED once it failed for good, so such a row is lost work, not work
 * retention removed: it is added again as `outbox-<id>`, from the row's payload, validated again.
 * A row whose job Redis holds as failed is one the runner could not mark (MySQL was down when the
 * job failed): it is marked FAILED with the job's reason, so no row stays ENQUEUED for ever.
 */

const BATCH_SIZE = 500;

type ListedRow = { id: string; jobName: string };

/** The next batch after `afterId` by primary key: ids and names only, payloads are read for the missing ones. */
function listEnqueued(db: DataSource, afterId: string): Promise<ListedRow[]> {
  return db
    .createQueryBuilder(HubOutbox, 'o')
    .select('o.id', 'id')
    .addSelect('o.job_name', 'jobName')
    .where("o.status = 'ENQUEUED' AND o.id > :afterId", { afterId: BigInt(afterId) })
    .orderBy('o.id', 'ASC')
    .limit(BATCH_SIZE)
    .getRawMany<ListedRow>();
}

interface RowStates {
  /** Rows whose job Redis no longer holds: added again. */
  missing: string[];
  /** Rows whose job failed for good while the runner could not say so (MySQL was down then): failed with the job's reason. */
  failed: OutboxFailure[];
}

/**
 * One pipeline of EXISTS on each job's hash (`queue.toKey(jobId)`, kept until BullMQ removes the
 * job) and of its failed reason. A job name this hub no longer knows has no queue to look in, and
 * no worker here could run it: it counts as missing, and is failed on restore.
 */
async function rowStates({ redis, queues, registry }: SweepScope, rows: readonly ListedRow[]): Promise<RowStates> {
  const states: RowStates = { missing: [], failed: [] };
  const checks: { id: string; key: string; failedKey: string }[] = [];
  for (const row of rows) {
    const def = registry.get(row.jobName);
    const queue = def ? queues.get(def.queue) : undefined;
    if (queue) checks.push({ id: row.id, key: queue.toKey(outboxJobId(row.id)), failedKey: queue.toKey('failed') });
    else states.missing.push(row.id);
  }
  if (checks.length === 0) return states;
  const pipeline = redis.pipeline();
  for (const c of checks) pipeline.exists(c.key).zscore(c.failedKey, outboxJobId(c.id)).hget(c.key, 'failedReason');
  const replies = await pipeline.exec();
  if (!replies || replies.length !== checks.length * 3) throw new Error('Redis answered the outbox pipeline only in part');
  checks.forEach((check, i) => {
    const [exists, failedScore, reason] = replies.slice(i * 3, i * 3 + 3).map(([err, value]) => {
      if (err) throw err;
      return value;
    });
    if (exists === 0) states.missing.push(check.id);
    else if (failedScore !== null) states.failed.push({ id: check.id, reason: `job failed: ${typeof reason === 'string' && reason ? reason : 'no reason kept'}` });
  });
  return states;
}

/** Adds the missing jobs again, or fails the rows that can no longer be enqueued; returns how many were added. */
async function restore(scope: SweepScope, ids: readonly string[]): Promise<number> {
  const { db, queues, registry, log } = scope;
  const at = scope.now();
  // Read again after EXISTS: a job that finished meanwhile marked its row DONE before it left Redis.
  const rows = await selectOutboxRows(db.manager)
    .where("o.status = 'ENQUEUED' AND o.id IN (:...ids)", { ids: bigIds(ids) })
    .orderBy('o.id', 'ASC')
    .getRawMany<OutboxRow>();
  const { jobs, ready: restored, failed } = prepareOutboxRows(registry, rows);
  // Same job ids: should another pass or process add one first, BullMQ keeps the one it has.
  await addByQueue(queues, jobs);
  if (restored.length > 0) {
    // attempts counts enqueues, as the relay's does: ops see a row that had to be restored.
    await db
      .createQueryBuilder()
      .update(HubOutbox)
      .set({ attempts: () => 'attempts + 1', updatedTime: at })
      .where("id IN (:...ids) AND status = 'ENQUEUED'", { ids: bigIds(restored) })
      .execute();
    log.debug({ outboxIds: restored }, 'outbox jobs added again');
  }
  await markOutboxRowsFailed(db.manager, failed, at, 'ENQUEUED');
  for (const f of failed) log.warn({ outboxId: f.id, reason: f.reason }, 'outbox row failed: its job is gone from Redis and cannot be added again');
  return jobs.length;
}

/** FAILED with the job's reason, as the runner would have written had MySQL answered then. */
async function settleFailed({ db, log, now }: SweepScope, failed: readonly OutboxFailure[]): Promise<void> {
  await markOutboxRowsFailed(db.manager, failed, now(), 'ENQUEUED');
  for (const f of failed) log.warn({ outboxId: f.id, reason: f.reason }, 'outbox row failed: its job had failed for good while the row could not be marked');
}

export const outboxSweeper: Sweeper = {
  name: 'outbox',
  queue: 'ops',
  everyMs: 60_000,
  async sweep(scope) {
    let restored = 0;
    // Keyset by primary key: bounded memory, and rows restored or failed behind the cursor are not seen twice.
    for (let afterId = '0'; !scope.signal.aborted; ) {
      const rows = await listEnqueued(scope.db, afterId);
      const { missing, failed } = await rowStates(scope, rows);
      if (missing.length > 0) restored += await restore(scope, missing);
      if (failed.length > 0) await settleFailed(scope, failed);
      const last = rows.at(-1);
      if (!last || rows.length < BATCH_SIZE) break;
      afterId = last.id;
    }
    return restored;
  },
};
