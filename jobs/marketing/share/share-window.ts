import type { EntityManager } from 'typeorm';
import { HubShareFirstReach } from '../../../entities/hub/hub-share-first-reach.entity';
import { HubShareFirstReferral } from '../../../entities/hub/hub-share-first-referral.entity';
import { HubShareResource } from '../../../entities/hub/hub-share-resource.entity';
import { Member } from '../../../entities/marketing/member.entity';
import { MemberChildInfo } from '../../../entities/marketing/member-child-info.entity';
import { ResourceShareInfo } from '../../../entities/marketing/resource-share-info.entity';
import { ShareTracking } from '../../../entities/marketing/share-tracking.entity';
import { affectedRows, sqlTable } from '../../../entities/raw-sql';

/**
 * The counters of docs/marketing.md ("Share counter rules") for one id window of share_tracking, as
 * set-based statements run inside the caller's transaction (the one that moves the cursor).
 * Increments come from GROUP BY over the window; "first time" increments come from the window's
 * facts that the fact tables did not hold yet, so a fact already held never counts again.
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
  resourceKeys: string;
  firstReach: string;
  firstReferral: string;
}

export function shareTables(manager: EntityManager): ShareTables {
  return {
    tracking: sqlTable(manager, ShareTracking).path,
    member: sqlTable(manager, Member).path,
    childInfo: sqlTable(manager, MemberChildInfo).path,
    resource: sqlTable(manager, ResourceShareInfo).path,
    resourceKeys: sqlTable(manager, HubShareResource).path,
    firstReach: sqlTable(manager, HubShareFirstReach).path,
    firstReferral: sqlTable(manager, HubShareFirstReferral).path,
  };
}

/** Rows the counters can use at all: who acted, on what, and how. Others are skipped, never guessed. */
const USABLE = `st.member_id IS NOT NULL AND st.resource_type IS NOT NULL AND st.resource_id IS NOT NULL AND st.type IN ('SHARE', 'REACH')`;
const LAST_SHARER = `TRIM(SUBSTRING_INDEX(st.from_member_ids, ',', -1))`;
/** The direct sharer: the last id of `from_member_ids`; text that is not an id gives NULL (no sharer) rather than a failed window. */
const SHARER = `CASE WHEN ${LAST_SHARER} REGEXP '^[0-9]{1,18}$' THEN CAST(${LAST_SHARER} AS SIGNED) END`;
/**
 * The window's usable rows, copied once into a temporary table of the connection. INSERT … SELECT
 * reads share_tracking without locks under READ COMMITTED, while UPDATE … JOIN would lock the rows it
 * reads and the next one: a platform insert still in flight just above the window would block it.
 */
const WINDOW_TABLE = 'tmp_share_window';
/** The window's first-time facts the fact tables did not hold yet: exactly what the window adds. */
const NEW_REACH = 'tmp_share_new_reach';
const NEW_REFERRAL = 'tmp_share_new_referral';
const TEMP_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';

async function dropTemporary(m: EntityManager): Promise<void> {
  await m.query(`DROP TEMPORARY TABLE IF EXISTS ${WINDOW_TABLE}, ${NEW_REACH}, ${NEW_REFERRAL}`);
}

/**
 * Gives every resource of the window its key, then stages the window with keys instead of texts.
 * Only the cursor's holder writes keys, so the NOT EXISTS cannot race another insert.
 */
async function stageWindow(m: EntityManager, t: ShareTables, lo: string, hi: string): Promise<number> {
  await dropTemporary(m);
  await m.query(
    `INSERT INTO ${t.resourceKeys} (resource_type, resource_id)
     SELECT DISTINCT st.resource_type, st.resource_id FROM ${t.tracking} st WHERE st.id > ? AND st.id <= ? AND ${USABLE}
       AND NOT EXISTS (SELECT 1 FROM ${t.resourceKeys} k WHERE k.resource_id = st.resource_id AND k.resource_type = st.resource_type)`,
    [lo, hi],
  );
  await m.query(
    `CREATE TEMPORARY TABLE ${WINDOW_TABLE} (
       id BIGINT NOT NULL PRIMARY KEY, organization_id BIGINT NULL, member_id BIGINT NOT NULL, resource_key INT UNSIGNED NOT NULL,
       is_share TINYINT NOT NULL, depth INT NULL, sharer_id BIGINT NULL, browse_time DATETIME NULL
     ) ${TEMP_OPTIONS}`,
  );
  return affectedRows(
    await m.query(
      `INSERT INTO ${WINDOW_TABLE} SELECT st.id, st.organization_id, st.member_id, k.resource_key, st.type = 'SHARE',
         st.depth, CASE WHEN st.type = 'REACH' THEN ${SHARER} END, COALESCE(st.browse_time, st.created_time)
       FROM ${t.tracking} st JOIN ${t.resourceKeys} k ON k.resource_id = st.resource_id AND k.resource_type = st.resource_type
       WHERE st.id > ? AND st.id <= ? AND ${USABLE}`,
      [lo, hi],
    ),
  );
}

/**
 * The window's first times the fact tables do not hold yet (a referral's lowest id is its first:
 * that row's browse time decides a new user), then those facts stored. Only the cursor's holder
 * writes facts, so what was new when looked up is what INSERT IGNORE adds, and the count it
 * inserted is the increment. Each fact table is looked up and written back to back, in key order,
 * so the pages the lookup brought in are still cached for the insert even when the two tables
 * together outgrow the buffer pool.
 */
async function findNewFacts(m: EntityManager, t: ShareTables): Promise<{ firstReaches: number; firstReferrals: number }> {
  await m.query(
    `CREATE TEMPORARY TABLE ${NEW_REACH} (resource_key INT UNSIGNED NOT NULL, visitor_id BIGINT NOT NULL, PRIMARY KEY (resource_key, visitor_id)) ${TEMP_OPTIONS}
     SELECT g.resource_key, g.visitor_id FROM (
       SELECT resource_key, member_id AS visitor_id FROM ${WINDOW_TABLE} WHERE is_share = 0 GROUP BY resource_key, member_id) g
     WHERE NOT EXISTS (SELECT 1 FROM ${t.firstReach} f WHERE f.resource_key = g.resource_key AND f.visitor_id = g.visitor_id)`,
  );
  const firstReaches = affectedRows(
    await m.query(`INSERT IGNORE INTO ${t.firstReach} (resource_key, visitor_id) SELECT resource_key, visitor_id FROM ${NEW_REACH} ORDER BY resource_key, visitor_id`),
  );
  await m.query(
    `CREATE TEMPORARY TABLE ${NEW_REFERRAL} (sharer_id BIGINT NOT NULL, resource_key INT UNSIGNED NOT NULL, visitor_id BIGINT NOT NULL,
       first_id BIGINT NOT NULL, PRIMARY KEY (sharer_id, resource_key, visitor_id)) ${TEMP_OPTIONS}
     SELECT g.sharer_id, g.resource_key, g.visitor_id, g.first_id FROM (
       SELECT sharer_id, resource_key, member_id AS visitor_id, MIN(id) AS first_id FROM ${WINDOW_TABLE} WHERE sharer_id IS NOT NULL
       GROUP BY sharer_id, resource_key, member_id) g
     WHERE NOT EXISTS (SELECT 1 FROM ${t.firstReferral} f WHERE f.sharer_id = g.sharer_id AND f.resource_key = g.resource_key AND f.visitor_id = g.visitor_id)`,
  );
  const firstReferrals = affectedRows(
    await m.query(
      `INSERT IGNORE INTO ${t.firstReferral} (sharer_id, resource_key, visitor_id)
       SELECT sharer_id, resource_key, visitor_id FROM ${NEW_REFERRAL} ORDER BY sharer_id, resource_key, visitor_id`,
    ),
  );
  return { firstReaches, firstReferrals };
}

/** Applies the window (lo, hi]; `now` stamps `resource_share_info.updated_time`. */
export async function applyShareWindow(m: EntityManager, t: ShareTables, lo: string, hi: string, now: Date): Promise<ShareWindowCounts> {
  try {
    const rows = await stageWindow(m, t, lo, hi);
    if (rows === 0) return { rows: 0, shares: 0, reaches: 0, firstReaches: 0, firstReferrals: 0 };
    const [summary] = (await m.query(`SELECT COALESCE(SUM(is_share), 0) AS shares FROM ${WINDOW_TABLE}`)) as { shares: number | string }[];
    const shares = Number(summary?.shares ?? 0);
    const facts = await findNewFacts(m, t);
    // Right after the referral facts were written, while their pages are cached: the recount reads them.
    if (facts.firstReferrals > 0) await applyReferrers(m, t);
    await applyActs(m, t);
    await applyResources(m, t, now);
    return { rows, shares, reaches: rows - shares, ...facts };
  } finally {
    await dropTemporary(m);
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
       SELECT w.member_id, k.resource_id, SUM(w.is_share) AS shares, SUM(1 - w.is_share) AS opens
       FROM ${WINDOW_TABLE} w JOIN ${t.resourceKeys} k ON k.resource_key = w.resource_key GROUP BY w.member_id, k.resource_id) d
       ON c.child_member_id = d.member_id AND c.resource_id = d.resource_id
     SET c.child_member_share_count = COALESCE(c.child_member_share_count, 0) + d.shares,
         c.child_member_open_count = COALESCE(c.child_member_open_count, 0) + d.opens`,
  );
}

/** The resource's counters; uv_count moves by the visitors' first REACHes this window added. */
async function applyResources(m: EntityManager, t: ShareTables, now: Date): Promise<void> {
  await m.query(
    `INSERT INTO ${t.resource} (organization_id, resource_type, resource_id, share_count, reach_count, uv_count, max_depth, updated_time)
     SELECT a.org, k.resource_type, k.resource_id, a.shares, a.reaches, COALESCE(u.visitors, 0), a.deepest, ?
     FROM (SELECT resource_key, MIN(organization_id) AS org, SUM(is_share) AS shares, SUM(1 - is_share) AS reaches,
             COALESCE(MAX(CASE WHEN is_share = 0 THEN depth END), 0) AS deepest FROM ${WINDOW_TABLE} GROUP BY resource_key) a
     JOIN ${t.resourceKeys} k ON k.resource_key = a.resource_key
     LEFT JOIN (SELECT resource_key, COUNT(*) AS visitors FROM ${NEW_REACH} GROUP BY resource_key) u ON u.resource_key = a.resource_key
     ON DUPLICATE KEY UPDATE share_count = share_count + VALUES(share_count), reach_count = reach_count + VALUES(reach_count),
       uv_count = uv_count + VALUES(uv_count), max_depth = GREATEST(max_depth, VALUES(max_depth)), updated_time = VALUES(updated_time)`,
    [now],
  );
}

/**
 * The sharer's downline counters, from the first-REACH-through-a-sharer facts this window added.
 * Save-info counters are set, not incremented: `save_info_time` changes outside share_tracking, so
 * each referrer this window touched (a new downline) is recounted over all its downlines: for a
 * member, one grouped pass over the touched sharers' key ranges (the fact key leads with the
 * sharer); for the rarer relation rows, a subquery per row.
 */
async function applyReferrers(m: EntityManager, t: ShareTables): Promise<void> {
  const savedVisitor = `JOIN ${t.member} v ON v.id = f.visitor_id AND v.save_info_time IS NOT NULL`;
  // A new user: the visitor's member row was created at or after the first REACH's browse time minus 10 minutes.
  await m.query(
    `UPDATE ${t.member} m JOIN (
       SELECT n.sharer_id, COUNT(*) AS total, COALESCE(SUM(v.created_time >= w.browse_time - INTERVAL 10 MINUTE), 0) AS newcomers
       FROM ${NEW_REFERRAL} n JOIN ${WINDOW_TABLE} w ON w.id = n.first_id LEFT JOIN ${t.member} v ON v.id = n.visitor_id GROUP BY n.sharer_id) d
       ON m.id = d.sharer_id
     LEFT JOIN (
       SELECT f.sharer_id, COUNT(DISTINCT f.visitor_id) AS saved
       FROM (SELECT DISTINCT sharer_id FROM ${NEW_REFERRAL}) s JOIN ${t.firstReferral} f ON f.sharer_id = s.sharer_id ${savedVisitor}
       GROUP BY f.sharer_id) r ON r.sharer_id = m.id
     SET m.child_member_total_count = COALESCE(m.child_member_total_count, 0) + d.total,
         m.child_member_uv_count = COALESCE(m.child_member_uv_count, 0) + d.newcomers,
         m.child_member_save_count = COALESCE(r.saved, 0)`,
  );
  await m.query(
    `UPDATE ${t.childInfo} c JOIN (
       SELECT n.sharer_id, k.resource_id, COUNT(*) AS n FROM ${NEW_REFERRAL} n JOIN ${t.resourceKeys} k ON k.resource_key = n.resource_key
       GROUP BY n.sharer_id, k.resource_id) d
       ON c.child_member_id = d.sharer_id AND c.resource_id = d.resource_id
     SET c.child_member_count = COALESCE(c.child_member_count, 0) + d.n,
         c.child_member_save_info_count = (SELECT COUNT(DISTINCT f.visitor_id) FROM ${t.firstReferral} f
           JOIN ${t.resourceKeys} fk ON fk.resource_key = f.resource_key AND fk.resource_id = c.resource_id ${savedVisitor}
           WHERE f.sharer_id = c.child_member_id)`,
  );
}
