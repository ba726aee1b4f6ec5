import type { EntityManager, SelectQueryBuilder } from 'typeorm';
import { HubOutbox, type OutboxStatus } from '../entities/hub/hub-outbox.entity';
import type { JobRegistry } from '../jobs/define-job';
import { InvalidPayloadError } from '../lib/errors';
import { prepareJob, type PreparedJob } from './enqueue';
import { isOpsJob, type QueueName } from '../lib/queue-names';
import type { QueueSet } from './queues';

/** What the relay and the outbox sweeper share: how a row becomes a job, and how a row is failed. */

/** Job ids of outbox rows are `outbox-<id>`: the same row always gets the same job. */
export const OUTBOX_JOB_PREFIX = 'outbox-';
export const outboxJobId = (outboxId: string): string => `${OUTBOX_JOB_PREFIX}${outboxId}`;

export type OutboxRow = { id: string; jobName: string; payload: string | null };
export type OutboxFailure = { id: string; reason: string };

const LAST_ERROR_CHARS = 1_000;

/** Cut by characters, not UTF-16 units: no surrogate pair is split, and strict mode never refuses the UPDATE. */
export const fitLastError = (text: string): string => [...text].slice(0, LAST_ERROR_CHARS).join('');

export const bigIds = (ids: readonly string[]): bigint[] => ids.map((id) => BigInt(id));

/** id, jobName and payload of rows aliased `o`; the caller adds the WHERE. */
export function selectOutboxRows(manager: EntityManager): SelectQueryBuilder<HubOutbox> {
  return (
    manager
      .createQueryBuilder(HubOutbox, 'o')
      .select('o.id', 'id')
      .addSelect('o.job_name', 'jobName')
      // MySQL 8 returns JSON parsed and MariaDB as text: as text from both, parsed in one place.
      .addSelect('CAST(o.payload AS CHAR)', 'payload')
  );
}

/** The job ready for addBulk, or why the row can never be enqueued. */
export function prepareOutboxJob(registry: JobRegistry, row: OutboxRow): PreparedJob | string {
  const def = registry.get(row.jobName);
  if (!def) return `no job named ${JSON.stringify(row.jobName)} in this hub`;
  // Rows come from other systems' own transactions, as API clients' requests do, with no token to scope:
  // they get the default scope, business jobs. Ops enqueue theirs with the CLI (npm run enqueue).
  if (isOpsJob(def)) return `${def.name} is an ops job: the outbox enqueues business jobs only`;
  try {
    return prepareJob(def, JSON.parse(row.payload ?? 'null'), { jobId: outboxJobId(row.id) });
  } catch (err) {
    if (err instanceof InvalidPayloadError) return `invalid payload for ${def.name}: ${err.message}`;
    if (err instanceof SyntaxError) return `payload of ${def.name} is not JSON`;
    throw err;
  }
}

export interface PreparedRows {
  jobs: PreparedJob[];
  /** The ids of the rows `jobs` came from. */
  ready: string[];
  failed: OutboxFailure[];
}

/** Splits rows into jobs ready for addBulk and rows that can never be enqueued, with the reason. */
export function prepareOutboxRows(registry: JobRegistry, rows: readonly OutboxRow[]): PreparedRows {
  const prepared: PreparedRows = { jobs: [], ready: [], failed: [] };
  for (const row of rows) {
    const job = prepareOutboxJob(registry, row);
    if (typeof job === 'string') {
      prepared.failed.push({ id: row.id, reason: job });
    } else {
      prepared.jobs.push(job);
      prepared.ready.push(row.id);
    }
  }
  return prepared;
}

/** One addBulk per queue, all at once; rejects if any queue refused. */
export async function addByQueue(queues: QueueSet, jobs: readonly PreparedJob[]): Promise<void> {
  const byQueue = new Map<QueueName, PreparedJob[]>();
  for (const job of jobs) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);
  await Promise.all([...byQueue].map(([queue, batch]) => queues.get(queue).addBulk(batch.map(({ name, data, opts }) => ({ name, data, opts })))));
}

/** FAILED with each row's own reason, for the rows still in `from`: another process may have moved them on. */
export async function markOutboxRowsFailed(manager: EntityManager, failed: readonly OutboxFailure[], at: Date, from: OutboxStatus): Promise<void> {
  if (failed.length === 0) return;
  // Each row has its own reason, yet one statement: a CASE over the ids.
  const params: Record<string, unknown> = {};
  const cases = failed.map((f, i) => {
    params[`fid${i}`] = BigInt(f.id);
    params[`reason${i}`] = fitLastError(f.reason);
    return `WHEN :fid${i} THEN :reason${i}`;
  });
  await manager
    .createQueryBuilder()
    .update(HubOutbox)
    .set({ status: 'FAILED', attempts: () => 'attempts + 1', lastError: () => `CASE id ${cases.join(' ')} END`, updatedTime: at })
    .where('id IN (:...failedIds) AND status = :from', { failedIds: bigIds(failed.map((f) => f.id)), from })
    .setParameters(params)
    .execute();
}
