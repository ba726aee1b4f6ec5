import type { EntityManager } from 'typeorm';
import { HubShareFirstReach } from '../../entities/hub/hub-share-first-reach.entity';
import { HubShareFirstReferral } from '../../entities/hub/hub-share-first-referral.entity';
import { Member } from '../../entities/marketing/member.entity';
import { MemberChildInfo } from '../../entities/marketing/member-child-info.entity';
import { ResourceShareInfo } from '../../entities/marketing/resource-share-info.entity';
import { ShareTracking } from '../../entities/marketing/share-tracking.entity';
import { affectedRows, sqlTable } from '../../entities/raw-sql';

/**
 * The counters of DESIGN §6 ("Share-tracking counters") for one id window of share_tracking, as
 * set-based statements run inside the caller's transaction (the one that moves the cursor).
 * Increments come from GROUP BY over the window; "first time" increments come from the fact rows
 * this window inserted (`first_id` in the window), so a fact already held never counts again.
 */

export interface ShareWindowCounts {
  rows: number;
  shares: number;
  reaches: number;
  /** Visitors' first REACH of a resource (uv_count increments). */
  firstReaches: number;
  /** Visitors' first REACH of a resource through a sharer (child_member_total_count increments). */
  firstReferrals: number;
}

export interface ShareTables {
  tracking: string;
  member: string;
  childInfo: string;
  resource: string;
  firstReach: string;
  firstReferral: string;
}

export function shareTables(manager: EntityManager): ShareTables {
  return {
    tracking: sqlTable(manager, ShareTracking).path,
    member: sqlTable(manager, Member).path,
    childInfo: sqlTable(manager, MemberChildInfo).path,
    resource: sqlTable(manager, ResourceShareInfo).path,
    firstReach: sqlTable(manager, HubShareFirstReach).path,
    firstReferral: sqlTable(manager, HubShareFirstReferral).path,
  };
}

/** Rows the counters can use at all: who acted, on what, and how. Others are skipped, never guessed. */
const USABLE = `st.member_id IS NOT NULL AND st.resource_type IS NOT NULL AND st.resource_id IS NOT NULL AND st.type IN ('SHARE', 'REACH')`;
const LAST_SHARER = `TRIM(SUBSTRING_INDEX(st.from_member_ids, ',', -1))`;
/** The direct sharer: the last id of `from_member_ids`; text that is not an id gives NULL (no sharer) rather than a failed window. */
const SHARER = `CASE WHEN ${LAST_SHARER} REGEXP '^[0-9]{1,18}$' THEN CAST(${LAST_SHARER} AS SIGNED) END`;
/** A downline counts as saved info when the member row has a save time. */
const SAVED_VISITOR = `COUNT(DISTINCT CASE WHEN v.save_info_time IS NOT NULL THEN f.visitor_id END)`;
/**
 * The window's usable rows, copied once into a temporary table of the connection. INSERT … SELECT
 * reads share_tracking without locks under READ COMMITTED, while UPDATE … JOIN would lock the rows it
 * reads and the next one: a platform insert still in flight just above the window would block it.
 */
const WINDOW_TABLE = 'tmp_share_window';


async function stageWindow(m: EntityManager, t: ShareTables, lo: string, hi: string): Promise<number> {
  await m.query(`DROP TEMPORARY TABLE IF EXISTS ${WINDOW_TABLE}`);
  await m.query(
    `CREATE TEMPORARY TABLE ${WINDOW_TABLE} (
       id BIGINT NOT NULL PRIMARY KEY, organization_id BIGINT NULL, member_id BIGINT NOT NULL,
       resource_type VARCHAR(255) NOT NULL, resource_id VARCHAR(255) NOT NULL, is_share TINYINT NOT NULL,
       depth INT NULL, sharer_id BIGINT NULL, browse_time DATETIME NULL
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
  );
  return affectedRows(
    await m.query(
      `INSERT INTO ${WINDOW_TABLE} SELECT st.id, st.organization_id, st.member_id, st.resource_type, st.resource_id, st.type = 'SHARE',
         st.depth, CASE WHEN st.type = 'REACH' THEN ${SHARER} END, COALESCE(st.browse_time, st.created_time)
       FROM ${t.tracking} st WHERE st.id > ? AND st.id <= ? AND ${USABLE}`,
      [lo, hi],
    ),
  );
}

/** Applies the window (lo, hi]; `now` stamps `resource_share_info.updated_time`. */
export async function applyShareWindow(m: EntityManager, t: ShareTables, lo: string, hi: string, now: Date): Promise<ShareWindowCounts> {
  const rows = await stageWindow(m, t, lo, hi);
  try {
    if (rows === 0) return { rows: 0, shares: 0, reaches: 0, firstReaches: 0, firstReferrals: 0 };
    const [summary] = (await m.query(`SELECT COALESCE(SUM(is_share), 0) AS shares FROM ${WINDOW_TABLE}`)) as { shares: number | string }[];
    const shares = Number(summary?.shares ?? 0);
    await applyActs(m, t);
    const firstReaches = await applyResources(m, t, now);
    const firstReferrals = await applyFirstReferrals(m, t, lo, hi);
    return { rows, shares, reaches: rows - shares, firstReaches, firstReferrals };
  } finally {
    await m.query(`DROP TEMPORARY TABLE IF EXISTS ${WINDOW_TABLE}`);
  }
}

/** Counters every row moves on its actor and the actor's relation rows. */
async function applyActs(m: EntityManager, t: ShareTables): Promise<void> {
  await m.query(
    `UPDATE ${t.member} m JOIN (
       SELECT member_id, SUM(is_share) AS shares, SUM(1 - is_share) AS opens FROM ${WINDOW_TABLE} GROUP BY member_id) d ON m.id = d.member_id
     SET m.share_count = COALESCE(m.share_count, 0) + d.shares, m.open_count = COALESCE(m.open_count, 0) + d.opens`,
  );
  // Only relation rows the platform created: the hub never invents a referral link (see README).
  await m.query(
    `UPDATE ${t.childInfo} c JOIN (
       SELECT member_id, resource_id, SUM(is_share) AS shares, SUM(1 - is_share) AS opens FROM ${WINDOW_TABLE} GROUP BY member_id, resource_id) d
       ON c.child_member_id = d.member_id AND c.resource_id = d.resource_id
     SET c.child_member_share_count = COALESCE(c.child_member_share_count, 0) + d.shares,
         c.child_member_open_count = COALESCE(c.child_member_open_count, 0) + d.opens`,
  );
}

/**
 * The resource's counters. uv_count counts a visitor's first REACH of a resource, kept as a fact row
 * (ORDER BY id: the lowest id is the first); a window row is a first time when the fact it would
 * have inserted carries its own id.
 */
async function applyResources(m: EntityManager, t: ShareTables, now: Date): Promise<number> {
  const inserted = affectedRows(
    await m.query(
      `INSERT IGNORE INTO ${t.firstReach} (resource_type, resource_id, visitor_id, first_id)
       SELECT resource_type, resource_id, member_id, id FROM ${WINDOW_TABLE} WHERE is_share = 0 ORDER BY id`,
    ),
  );
  await m.query(
    `INSERT INTO ${t.resource} (organization_id, resource_type, resource_id, share_count, reach_count, uv_count, max_depth, updated_time)
     SELECT MIN(w.organization_id), w.resource_type, w.resource_id, SUM(w.is_share), SUM(1 - w.is_share), COUNT(f.first_id),
            COALESCE(MAX(CASE WHEN w.is_share = 0 THEN w.depth END), 0), ?
     FROM ${WINDOW_TABLE} w LEFT JOIN ${t.firstReach} f
       ON f.resource_type = w.resource_type AND f.resource_id = w.resource_id AND f.visitor_id = w.member_id AND f.first_id = w.id
     GROUP BY w.resource_type, w.resource_id
     ON DUPLICATE KEY UPDATE share_count = share_count + VALUES(share_count), reach_count = reach_count + VALUES(reach_count),
       uv_count = uv_count + VALUES(uv_count), max_depth = GREATEST(max_depth, VALUES(max_depth)), updated_time = VALUES(updated_time)`,
    [now],
  );
  return inserted;
}

/**
 * The sharer's downline counters, from the first-REACH-through-a-sharer facts this window added.
 * Save-info counters are set, not incremented: `save_info_time` changes outside share_tracking, so
 * each referrer this window touched (a new downline) is recounted over all its downlines, by a
 * subquery per touched row (the plan starts from the touched keys, never from the whole table).
 */
async function applyFirstReferrals(m: EntityManager, t: ShareTables, lo: string, hi: string): Promise<number> {
  const inserted = affectedRows(
    await m.query(
      `INSERT IGNORE INTO ${t.firstReferral} (resource_type, resource_id, visitor_id, sharer_id, first_id, browse_time)
       SELECT resource_type, resource_id, member_id, sharer_id, id, browse_time FROM ${WINDOW_TABLE} WHERE sharer_id IS NOT NULL ORDER BY id`,
    ),
  );
  if (inserted === 0) return 0;
  const saved = (sharer: string, resource?: string): string =>
    `(SELECT ${SAVED_VISITOR} FROM ${t.firstReferral} f LEFT JOIN ${t.member} v ON v.id = f.visitor_id
      WHERE f.sharer_id = ${sharer}${resource ? ` AND f.resource_id = ${resource}` : ''})`;
  // A new user: the visitor's member row was created at or after the first REACH's browse time minus 10 minutes.
  await m.query(
    `UPDATE ${t.member} m JOIN (
       SELECT f.sharer_id, COUNT(*) AS total, COALESCE(SUM(v.created_time >= f.browse_time - INTERVAL 10 MINUTE), 0) AS newcomers
       FROM ${t.firstReferral} f LEFT JOIN ${t.member} v ON v.id = f.visitor_id WHERE f.first_id > ? AND f.first_id <= ? GROUP BY f.sharer_id) d
       ON m.id = d.sharer_id
     SET m.child_member_total_count = COALESCE(m.child_member_total_count, 0) + d.total,
         m.child_member_uv_count = COALESCE(m.child_member_uv_count, 0) + d.newcomers,
         m.child_member_save_count = ${saved('m.id')}`,
    [lo, hi],
  );
  await m.query(
    `UPDATE ${t.childInfo} c JOIN (
       SELECT sharer_id, resource_id, COUNT(*) AS n FROM ${t.firstReferral} WHERE first_id > ? AND first_id <= ? GROUP BY sharer_id, resource_id) d
       ON c.child_member_id = d.sharer_id AND c.resource_id = d.resource_id
     SET c.child_member_count = COALESCE(c.child_member_count, 0) + d.n,
         c.child_member_save_info_count = ${saved('c.child_member_id', 'c.resource_id')}`,
    [lo, hi],
  );
  return inserted;
}
