import type { DataSource } from 'typeorm';
import { HubOutbox, type OutboxStatus } from '../entities/hub/hub-outbox.entity';
import { fitLastError, OUTBOX_JOB_PREFIX } from './outbox-rows';

/**
 * How a job of hub_outbox reports back to its row. The runner marks DONE while the job is still
 * active in Redis: a row still ENQUEUED whose job is gone is then lost work, which the outbox
 * sweeper adds again, never finished work that retention removed.
 */

/** An unsigned BIGINT, as the relay writes it: no sign, no leading zero, at most 20 digits. */
const OUTBOX_JOB_ID = new RegExp(`^${OUTBOX_JOB_PREFIX}([1-9]\\d{0,19})$`);

/** The outbox row id of a job id `outbox-<id>`, else undefined. */
export function outboxIdOf(jobId: string | undefined): string | undefined {
  return jobId === undefined ? undefined : OUTBOX_JOB_ID.exec(jobId)?.[1];
}

/**
 * Only from PENDING or ENQUEUED: a row FAILED or DONE keeps its outcome. PENDING too, because the
 * relay adds a job before its transaction commits: a fast job can finish while its row, locked by
 * the relay, still reads PENDING. This statement then waits for that lock and sees ENQUEUED.
 */
async function finish(db: DataSource, outboxId: string, status: OutboxStatus, lastError: string | undefined, at: Date): Promise<void> {
  await db
    .createQueryBuilder()
    .update(HubOutbox)
    .set({ status, updatedTime: at, ...(lastError === undefined ? {} : { lastError: fitLastError(lastError) }) })
    .where("id = :id AND status IN ('PENDING', 'ENQUEUED')", { id: BigInt(outboxId) })
    .execute();
}

/** Marks the row DONE (its job completed). */
export async function markOutboxDone(db: DataSource, outboxId: string, at: Date): Promise<void> {
  await finish(db, outboxId, 'DONE', undefined, at);
}

/** Marks the row FAILED with last_error (its job failed for good). */
export async function markOutboxFailed(db: DataSource, outboxId: string, reason: string, at: Date): Promise<void> {
  await finish(db, outboxId, 'FAILED', reason, at);
}
