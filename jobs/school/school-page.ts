import type { EntityManager } from 'typeorm';
import { FeederSchool } from '../../entities/marketing/feeder-school.entity';
import { affectedRows, sqlTable } from '../../entities/raw-sql';
import type { School } from '../../integrations/school-tms/school-tms.client';
import { NO_COUNTS, upsertCounts, type SyncCounts } from './feed-run';

/** `?, ?, …`: n parameters. */
export const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

/** `(row), (row), …`: a multi-row VALUES list. */
export const valueRows = (rows: number, row: string): string => Array.from({ length: rows }, () => `(${row})`).join(', ');

const COPIED = ['name', 'province', 'city', 'address', 'status', 'third_modify_id', 'third_modify_name'] as const;

/**
 * `updated_time` is assigned first, while the other columns still hold their old values: it moves
 * only when one of them changes, so an unchanged school is left exactly as it was (affected rows
 * then say "unchanged", and a rerun rewrites nothing).
 */
const SAME_AS_SOURCE = `${COPIED.map((c) => `${c} <=> VALUES(${c})`).join(' AND ')} AND COALESCE(deleted, 0) = 0`;

/**
 * One page of the schools feed into `feeder_school`, by `third_id`: live schools upserted as one
 * multi-row statement (a school deleted earlier comes back), deleted ones soft-deleted.
 */
export async function applySchoolPage(m: EntityManager, schools: readonly School[], now: Date): Promise<SyncCounts> {
  const table = sqlTable(m, FeederSchool).path;
  const live = schools.filter((s) => !s.deleted);
  const gone = schools.filter((s) => s.deleted);
  const counts: SyncCounts = { ...NO_COUNTS };
  if (live.length > 0) {
    const ids = live.map((s) => s.id);
    const [existing] = (await m.query(`SELECT COUNT(*) AS n FROM ${table} WHERE third_id IN (${placeholders(ids.length)})`, ids)) as { n: string | number }[];
    const params = live.flatMap((s) => [s.id, s.name, s.province, s.city, s.address, s.status, s.modifyId, s.modifyName, now, now]);
    const result: unknown = await m.query(
      `INSERT INTO ${table} (third_id, ${COPIED.join(', ')}, created_time, updated_time, deleted) VALUES ${valueRows(live.length, `${placeholders(10)}, 0`)}
       ON DUPLICATE KEY UPDATE updated_time = IF(${SAME_AS_SOURCE}, updated_time, VALUES(updated_time)),
         ${COPIED.map((c) => `${c} = VALUES(${c})`).join(', ')}, deleted = 0`,
      params,
    );
    Object.assign(counts, upsertCounts(affectedRows(result), live.length, Number(existing?.n ?? 0)));
  }
  if (gone.length > 0) {
    const ids = gone.map((s) => s.id);
    counts.deleted = affectedRows(
      await m.query(`UPDATE ${table} SET deleted = 1, updated_time = ? WHERE third_id IN (${placeholders(ids.length)}) AND COALESCE(deleted, 0) <> 1`, [now, ...ids]),
    );
  }
  return counts;
}
