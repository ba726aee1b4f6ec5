import type { DataSource } from 'typeorm';
import { HubOutbox } from '../entities/hub/hub-outbox.entity';

interface ReadySince {
  readySince: Date | string | null;
}

const millisOf = (value: Date | string | null | undefined): number | null => {
  if (value === null || value === undefined) return null;
  const ms = (value instanceof Date ? value : new Date(value)).getTime();
  return Number.isNaN(ms) ? null : ms;
};

/**
 * Seconds the oldest due PENDING row of hub_outbox has waited for the relay: since its insert, or
 * its `run_at` when it had one (0 when none waits). Two index dives, whatever the backlog: the
 * oldest row without `run_at` by id on (status, run_at, id), the earliest due `run_at` on the same
 * index. The relay claims rows by id, so the lowest id is the oldest it still owes.
 */
export async function oldestPendingOutboxSeconds(db: DataSource, now: Date): Promise<number> {
  // The hint keeps both on (status, run_at, id): a LIMIT 1 by id may tempt the planner to walk
  // (status, id) past every scheduled row.
  const pending = () => db.createQueryBuilder(HubOutbox, 'o').useIndex('idx_hub_outbox_status_run_at').where("o.status = 'PENDING'");
  const [atOnce, scheduled] = await Promise.all([
    pending().select('o.created_time', 'readySince').andWhere('o.run_at IS NULL').orderBy('o.id', 'ASC').limit(1).getRawOne<ReadySince>(),
    pending().select('MIN(o.run_at)', 'readySince').andWhere('o.run_at <= :now', { now }).getRawOne<ReadySince>(),
  ]);
  const since = [millisOf(atOnce?.readySince), millisOf(scheduled?.readySince)].filter((ms): ms is number => ms !== null);
  if (since.length === 0) return 0;
  return Math.max(0, (now.getTime() - Math.min(...since)) / 1_000);
}
