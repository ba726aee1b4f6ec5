import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import { HubAlert } from '../../entities/hub/hub-alert.entity';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { HubOutbox } from '../../entities/hub/hub-outbox.entity';
import { HubReconciliationBillRow } from '../../entities/hub/hub-reconciliation-bill-row.entity';
import { HubReconciliationRun } from '../../entities/hub/hub-reconciliation-run.entity';
import { affectedRows, sqlTable } from '../../entities/raw-sql';
import { pagesById } from '../../lib/pages-by-id';

/**
 * What the hub's own tables keep, and for how long. Only finished rows go: an outbox row DONE or
 * FAILED, a message SENT or FAILED (PENDING and SENDING are owed, UNKNOWN waits for ops), a
 * reconciliation's staged bill once its run ended (the run and its items, the report, stay). An
 * alert is finished once raised: its row goes by age alone.
 */

const DAY_MS = 86_400_000;

/** A table walked by its id in primary-key pages: ids of finished rows older than the cutoff, then a DELETE of those. */
interface ById {
  readonly entity: EntityTarget<ObjectLiteral>;
  /** SQL over alias-free columns: the rows that may go. */
  readonly finished: string;
  readonly params: Record<string, unknown>;
  readonly timeColumn: string;
}

/** Deletes, page by page, the rows of `table` that are finished and older than `before`; returns how many. */
async function deleteById(db: DataSource, table: ById, before: Date, batchSize: number, signal: AbortSignal): Promise<number> {
  const predicate = `${table.finished} AND ${table.timeColumn} < :before`;
  const params = { ...table.params, before };
  let deleted = 0;
  const pages = pagesById(batchSize, (afterId) => {
    signal.throwIfAborted();
    return db
      .createQueryBuilder()
      .select('id')
      .from(table.entity, 't')
      .where(`id > :afterId AND ${predicate}`, { ...params, afterId })
      .orderBy('id', 'ASC')
      .limit(batchSize)
      .getRawMany<{ id: string }>();
  });
  for await (const page of pages) {
    const ids = page.map((r) => BigInt(r.id));
    // The same predicate again: a row that changed since the read (a late receipt) stays.
    const result = await db.createQueryBuilder().delete().from(table.entity).where(`id IN (:...ids) AND ${predicate}`, { ...params, ids }).execute();
    deleted += result.affected ?? 0;
  }
  return deleted;
}

/** The staged bill rows of runs that ended before `before`, a slice of `batchSize` at a time per run. */
async function deleteStagedBills(db: DataSource, before: Date, batchSize: number, signal: AbortSignal): Promise<number> {
  const bills = sqlTable(db.manager, HubReconciliationBillRow);
  let deleted = 0;
  const runs = pagesById(500, (afterId) =>
    db
      .createQueryBuilder(HubReconciliationRun, 'r')
      .select('r.id', 'id')
      .where("r.id > :afterId AND r.status IN ('COMPLETED', 'EMPTY', 'FAILED') AND r.updated_time < :before", { afterId, before })
      .orderBy('r.id', 'ASC')
      .limit(500)
      .getRawMany<{ id: string }>(),
  );
  for await (const page of runs) {
    for (const { id } of page) {
      for (;;) {
        signal.throwIfAborted();
        const slice = affectedRows(await db.query(`DELETE FROM ${bills.path} WHERE ${bills.column('runId')} = ? LIMIT ?`, [BigInt(id), batchSize]));
        deleted += slice;
        if (slice < batchSize) break;
      }
    }
  }
  return deleted;
}

export interface RetentionDays {
  outboxDays: number;
  deliveryDays: number;
  billRowDays: number;
  canaryDays: number;
  alertDays: number;
}

export type RetentionCounts = Record<'outbox' | 'deliveries' | 'billRows' | 'canaries' | 'alerts', number>;

/** One pass over every table: each table's finished rows older than its age are deleted in primary-key batches. */
export async function applyRetention(db: DataSource, now: Date, days: RetentionDays, batchSize: number, signal: AbortSignal): Promise<RetentionCounts> {
  const ago = (d: number): Date => new Date(now.getTime() - d * DAY_MS);
  const outbox = await deleteById(db, { entity: HubOutbox, finished: "status IN ('DONE', 'FAILED')", params: {}, timeColumn: 'updated_time' }, ago(days.outboxDays), batchSize, signal);
  const deliveries = await deleteById(
    db,
    { entity: HubMessageDelivery, finished: "status IN ('SENT', 'FAILED')", params: {}, timeColumn: 'updated_time' },
    ago(days.deliveryDays),
    batchSize,
    signal,
  );
  const billRows = await deleteStagedBills(db, ago(days.billRowDays), batchSize, signal);
  const canaries = (await db.createQueryBuilder().delete().from(HubCanary).where('created_time < :before', { before: ago(days.canaryDays) }).execute()).affected ?? 0;
  const alerts = await deleteById(db, { entity: HubAlert, finished: '1 = 1', params: {}, timeColumn: 'raised_at' }, ago(days.alertDays), batchSize, signal);
  return { outbox, deliveries, billRows, canaries, alerts };
}
