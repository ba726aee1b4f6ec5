import type { DataSource } from 'typeorm';
import { applyBusinessSchema } from '../entities/schema/apply-business-schema';
import { createDataSource } from '../entities/data-source';
import { migrate } from '../entities/schema/migrate';
import { withServerConnection } from '../entities/schema/mysql-server';
import { foldShareTracking, SHARE_CURSOR } from '../jobs/marketing/share/share-fold';
import { shareTables, type ShareTables } from '../jobs/marketing/share/share-window';
import type { Config } from '../lib/config';
import { createLogger } from '../lib/logger';
import { withDatabase } from './bench-database';
import { median, type BenchRow } from './table';

/**
 * share-aggregate over 1,000,000 new share_tracking rows (100,000 members, 10,000 resources, 30 %
 * SHARE) against a one-shot set-based rebuild of the same counters on the same rows; then 10,000
 * new rows on top of a 2,000,000-row table against 10,000 rows on an empty one, several folds of
 * each: the empty ones first, then the big ones one after another, as a job running every minute.
 * Both run on a buffer pool sized for the data; the big folds run again on the server's own pool.
 */

const MEMBERS = 100_000;
const RESOURCES = 10_000;
const LOAD = 1_000_000;
const SMALL = 10_000;
const BATCH = 50_000;
/** Folds of 10,000 rows on each table (on the big one after a first fold right after its bulk load). */
const RUNS = 5;
/** Rows are stamped this long ago, so all of them are below the safe watermark. */
const AGE_S = 7_200;

/**
 * The buffer pool the folds are measured on: room for the fact tables (about 100 MB here) and the
 * counters' tables, as on a server sized for the data it holds. MariaDB's default of 128 MB is
 * smaller than that working set, so every fold would read most of its pages into the pool again.
 */
const SIZED_POOL_BYTES = 512 * 1024 * 1024;

const seconds = (ms: number): string => `${(ms / 1_000).toFixed(1)} s`;
const megabytes = (bytes: number): string => `${Math.round(bytes / 1024 / 1024)} MB`;

async function bufferPoolBytes(db: DataSource): Promise<number> {
  const [row] = (await db.query(`SELECT @@GLOBAL.innodb_buffer_pool_size AS size`)) as { size: string | number }[];
  return Number(row?.size ?? 0);
}

/** Resizes InnoDB's buffer pool (a dynamic setting); false when this login may not. */
async function resizeBufferPool(db: DataSource, bytes: number): Promise<boolean> {
  try {
    await db.query(`SET GLOBAL innodb_buffer_pool_size = ${bytes}`);
  } catch {
    return false;
  }
  for (let i = 0; i < 60; i++) {
    if ((await bufferPoolBytes(db)) === bytes) return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** Members (a quarter with saved info) and referral links, generated in SQL. */
async function loadPopulation(db: DataSource, now: Date): Promise<void> {
  await db.query(
    `INSERT INTO member (id, organization_id, created_time, save_info_time)
     SELECT seq, 1, ? - INTERVAL (CRC32(CONCAT('c', seq)) % 172800) SECOND, IF(seq % 4 = 0, ?, NULL) FROM seq_1_to_${MEMBERS}`,
    [now, now],
  );
  await db.query(
    `INSERT INTO member_child_info (child_member_id, member_id, resource_id, created_time)
     SELECT 1 + CRC32(CONCAT('k', seq)) % ${MEMBERS}, 1 + CRC32(CONCAT('p', seq)) % ${MEMBERS}, CONCAT('res', CRC32(CONCAT('q', seq)) % ${RESOURCES}), ?
     FROM seq_1_to_${MEMBERS}`,
    [now],
  );
}

/** share_tracking rows `from`..`to` of a deterministic stream, in statements of 250,000 rows. */
async function loadTracking(db: DataSource, from: number, to: number, now: Date): Promise<void> {
  const created = new Date(now.getTime() - AGE_S * 1_000);
  for (let lo = from; lo <= to; lo += 250_000) {
    const hi = Math.min(to, lo + 249_999);
    await db.query(
      `INSERT INTO share_tracking (organization_id, member_id, resource_type, resource_id, type, from_member_ids, depth, browse_time, created_time)
       SELECT 1, 1 + CRC32(CONCAT('m', seq)) % ${MEMBERS}, 'ARTICLE', CONCAT('res', CRC32(CONCAT('r', seq)) % ${RESOURCES}),
              IF(CRC32(CONCAT('t', seq)) % 10 < 3, 'SHARE', 'REACH'),
              CONCAT(1 + CRC32(CONCAT('a', seq)) % ${MEMBERS}, ',', 1 + CRC32(CONCAT('b', seq)) % ${MEMBERS}),
              1 + seq % 3, ? - INTERVAL (CRC32(CONCAT('w', seq)) % 172800) SECOND, ?
       FROM seq_${lo}_to_${hi}`,
      [created, created],
    );
  }
}

/** Every counter back to zero and no facts: the state before a first run. */
async function resetCounters(db: DataSource, t: ShareTables, truncateTracking: boolean): Promise<void> {
  await db.query(`UPDATE ${t.member} SET share_count = 0, open_count = 0, child_member_total_count = 0, child_member_uv_count = 0, child_member_save_count = 0`);
  await db.query(`UPDATE ${t.childInfo} SET child_member_share_count = 0, child_member_open_count = 0, child_member_count = 0, child_member_save_info_count = 0`);
  const tables = [t.resource, t.resourceKeys, t.firstReach, t.firstReferral, BASELINE_REFERRAL, ...(truncateTracking ? [t.tracking] : [])];
  for (const table of tables) await db.query(`TRUNCATE TABLE ${table}`);
  await db.query(`DELETE FROM hub_cursor WHERE name = ?`, [SHARE_CURSOR]);
}

/** The one-shot rebuild's own first-referral facts, keyed on the texts as share_tracking gives them. */
const BASELINE_REFERRAL = 'bench_share_first_referral';

async function createBaselineReferral(db: DataSource): Promise<void> {
  await db.query(`CREATE TABLE ${BASELINE_REFERRAL} (
      resource_type VARCHAR(255) NOT NULL, resource_id VARCHAR(255) NOT NULL, visitor_id BIGINT NOT NULL, sharer_id BIGINT NOT NULL,
      first_id BIGINT NOT NULL, browse_time DATETIME NULL, PRIMARY KEY (resource_type, resource_id, visitor_id, sharer_id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`);
}

/** The whole of share_tracking in one set of statements, no windows and no cursor: the fastest way to all the counters. */
async function oneShotRebuild(db: DataSource, t: ShareTables, now: Date): Promise<void> {
  const usable = `member_id IS NOT NULL AND resource_type IS NOT NULL AND resource_id IS NOT NULL AND type IN ('SHARE', 'REACH')`;
  const last = `TRIM(SUBSTRING_INDEX(from_member_ids, ',', -1))`;
  const saved = `COUNT(DISTINCT CASE WHEN v.save_info_time IS NOT NULL THEN f.visitor_id END)`;
  await db.query(`UPDATE ${t.member} m JOIN (SELECT member_id, SUM(type = 'SHARE') s, SUM(type = 'REACH') r FROM ${t.tracking} WHERE ${usable} GROUP BY member_id) d
    ON m.id = d.member_id SET m.share_count = d.s, m.open_count = d.r`);
  await db.query(`UPDATE ${t.childInfo} c JOIN (SELECT member_id, resource_id, SUM(type = 'SHARE') s, SUM(type = 'REACH') r FROM ${t.tracking} WHERE ${usable} GROUP BY member_id, resource_id) d
    ON c.child_member_id = d.member_id AND c.resource_id = d.resource_id SET c.child_member_share_count = d.s, c.child_member_open_count = d.r`);
  await db.query(
    `INSERT INTO ${t.resource} (organization_id, resource_type, resource_id, share_count, reach_count, uv_count, max_depth, updated_time)
     SELECT MIN(organization_id), resource_type, resource_id, SUM(type = 'SHARE'), SUM(type = 'REACH'), COUNT(DISTINCT CASE WHEN type = 'REACH' THEN member_id END),
            COALESCE(MAX(CASE WHEN type = 'REACH' THEN depth END), 0), ? FROM ${t.tracking} WHERE ${usable} GROUP BY resource_type, resource_id`,
    [now],
  );
  await db.query(`INSERT IGNORE INTO ${BASELINE_REFERRAL} (resource_type, resource_id, visitor_id, sharer_id, first_id, browse_time)
    SELECT resource_type, resource_id, member_id, CAST(${last} AS SIGNED), id, COALESCE(browse_time, created_time) FROM ${t.tracking}
    WHERE ${usable} AND type = 'REACH' AND ${last} REGEXP '^[0-9]{1,18}$' ORDER BY id`);
  await db.query(`UPDATE ${t.member} m JOIN (SELECT f.sharer_id, COUNT(*) n, COALESCE(SUM(v.created_time >= f.browse_time - INTERVAL 10 MINUTE), 0) fresh, ${saved} saved
    FROM ${BASELINE_REFERRAL} f LEFT JOIN ${t.member} v ON v.id = f.visitor_id GROUP BY f.sharer_id) d ON m.id = d.sharer_id
    SET m.child_member_total_count = d.n, m.child_member_uv_count = d.fresh, m.child_member_save_count = d.saved`);
  await db.query(`UPDATE ${t.childInfo} c JOIN (SELECT f.sharer_id, f.resource_id, COUNT(*) n, ${saved} saved
    FROM ${BASELINE_REFERRAL} f LEFT JOIN ${t.member} v ON v.id = f.visitor_id GROUP BY f.sharer_id, f.resource_id) d
    ON c.child_member_id = d.sharer_id AND c.resource_id = d.resource_id SET c.child_member_count = d.n, c.child_member_save_info_count = d.saved`);
}

/** Sums of every counter: the one-shot rebuild and the job must agree on them. */
async function checksum(db: DataSource, t: ShareTables): Promise<string> {
  const rows = [
    ...((await db.query(`SELECT SUM(share_count), SUM(open_count), SUM(child_member_total_count), SUM(child_member_uv_count), SUM(child_member_save_count) FROM ${t.member}`)) as object[]),
    ...((await db.query(`SELECT SUM(child_member_share_count), SUM(child_member_open_count), SUM(child_member_count), SUM(child_member_save_info_count) FROM ${t.childInfo}`)) as object[]),
    ...((await db.query(`SELECT COUNT(*), SUM(share_count), SUM(reach_count), SUM(uv_count), SUM(max_depth) FROM ${t.resource}`)) as object[]),
  ];
  return rows.map((r) => Object.values(r).map(String).join(',')).join(' | ');
}

/** Waits (up to 30 s) for InnoDB to write back the bulk load's dirty pages, so the next fold is not paying for them. */
async function settle(db: DataSource): Promise<void> {
  for (let i = 0; i < 30; i++) {
    const [row] = (await db.query(`SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'`)) as { Value: string }[];
    if (Number(row?.Value ?? 0) < 200) return;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

async function aggregate(db: DataSource, now: Date): Promise<{ ms: number; rows: number }> {
  let rows = 0;
  const ms = await timed(async () => {
    rows = (await foldShareTracking(db, { batchSize: BATCH, lagSeconds: 60, now, signal: new AbortController().signal })).rows;
  });
  return { ms, rows };
}

/** Loads 10,000 new rows from id `from` on and folds them: the fold's milliseconds. */
async function foldNewRows(db: DataSource, now: Date, from: number): Promise<number> {
  await loadTracking(db, from, from + SMALL - 1, now);
  const fold = await aggregate(db, now);
  if (fold.rows !== SMALL) throw new Error(`expected ${SMALL} rows, folded ${fold.rows}`);
  return fold.ms;
}

/** Folds of 10,000 new rows each, on top of what the table holds, from id `from` on; the first is cold. */
async function foldsOnTop(db: DataSource, now: Date, from: number): Promise<{ cold: number; steady: number[]; next: number }> {
  const folds: number[] = [];
  let next = from;
  for (let run = 0; run <= RUNS; run++, next += SMALL) folds.push(await foldNewRows(db, now, next));
  const [cold = 0, ...steady] = folds;
  return { cold, steady, next };
}

const list = (ms: number[]): string => ms.map((v) => (v / 1_000).toFixed(2)).join(', ');

export async function benchShareAggregate(config: Config): Promise<BenchRow[]> {
  const database = `${config.mysql.database}_bench_share`.slice(0, 64);
  const bench = withDatabase(config, database);
  const log = createLogger({ level: 'warn' });
  await withServerConnection(config.mysql, (conn) => conn.query(`DROP DATABASE IF EXISTS \`${database}\``));
  await applyBusinessSchema(bench, log);
  await migrate(bench, log);
  const db = await createDataSource(bench);
  const now = new Date(Math.floor(Date.now() / 1_000) * 1_000);
  const ownPool = await bufferPoolBytes(db);
  const resized = ownPool < SIZED_POOL_BYTES && (await resizeBufferPool(db, SIZED_POOL_BYTES));
  const pool = megabytes(resized ? SIZED_POOL_BYTES : ownPool);
  try {
    const t = shareTables(db.manager);
    await loadPopulation(db, now);
    await createBaselineReferral(db);
    const empty: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      await resetCounters(db, t, true);
      empty.push(await foldNewRows(db, now, 1));
    }
    await resetCounters(db, t, true);
    const loadMs = await timed(() => loadTracking(db, 1, LOAD, now));
    console.log(`  share_tracking: ${LOAD.toLocaleString('en-US')} rows loaded in ${seconds(loadMs)}; buffer pool ${pool}`);
    await db.query(`SELECT COUNT(*), SUM(depth) FROM ${t.tracking}`); // the same warm cache for both
    const baselineMs = await timed(() => oneShotRebuild(db, t, now));
    const expected = await checksum(db, t);
    await resetCounters(db, t, false);
    const ours = await aggregate(db, now);
    const got = await checksum(db, t);
    if (ours.rows !== LOAD || got !== expected) throw new Error(`share-aggregate disagrees with the one-shot rebuild: ${got} vs ${expected} (${ours.rows} rows)`);
    console.log(`  1,000,000 rows: one-shot rebuild ${seconds(baselineMs)}, share-aggregate ${seconds(ours.ms)}; counters agree`);
    // A 2,000,000-row table already folded: 1,000,000 more rows whose cursor has passed them, then 10,000 new ones a fold.
    await loadTracking(db, LOAD + 1, 2 * LOAD, now);
    await db.query(`UPDATE hub_cursor SET position = (SELECT MAX(id) FROM ${t.tracking}) WHERE name = ?`, [SHARE_CURSOR]);
    await settle(db);
    const big = await foldsOnTop(db, now, 2 * LOAD + 1);
    console.log(`  10,000 new rows: on an empty table ${list(empty)} s; on a 2,000,000-row table ${list(big.steady)} s (the first fold after the bulk load: ${seconds(big.cold)})`);
    const rows: BenchRow[] = [
      {
        scenario: 'share-aggregate 1,000,000 new share_tracking rows (100k members, 10k resources, 30 % SHARE)',
        unit: 'rows/s',
        baseline: { label: 'one-shot set-based rebuild', value: (LOAD / baselineMs) * 1_000 },
        ours: { label: `share-aggregate (${BATCH.toLocaleString('en-US')}-row windows)`, value: (LOAD / ours.ms) * 1_000 },
        targetRatio: 0.5,
      },
      {
        scenario: `10,000 new rows on a 2,000,000-row table vs on an empty table (time within 2×), ${pool} buffer pool`,
        unit: 'rows/s',
        baseline: { label: 'empty table', value: (SMALL / median(empty)) * 1_000 },
        ours: { label: '2,000,000-row table', value: (SMALL / median(big.steady)) * 1_000 },
        targetRatio: 0.5,
        notes: `median of ${RUNS} folds each: ${seconds(median(big.steady))} vs ${seconds(median(empty))}; the first fold right after loading 1,000,000 rows took ${seconds(big.cold)} (its pages not yet in the buffer pool)`,
      },
    ];
    if (resized && (await resizeBufferPool(db, ownPool))) {
      const small = await foldsOnTop(db, now, big.next);
      console.log(`  on the server's own ${megabytes(ownPool)} buffer pool: ${list(small.steady)} s (the first fold after shrinking it: ${seconds(small.cold)})`);
      rows.push({
        scenario: `the same 2,000,000-row folds on the server's own ${megabytes(ownPool)} buffer pool, smaller than the fact tables`,
        unit: 'rows/s',
        baseline: { label: 'empty table', value: (SMALL / median(empty)) * 1_000 },
        ours: { label: '2,000,000-row table', value: (SMALL / median(small.steady)) * 1_000 },
        notes: `median of ${RUNS} folds: ${seconds(median(small.steady))}; most of the fact tables' pages are read into the pool again in every fold`,
      });
    }
    return rows;
  } finally {
    if (resized) await resizeBufferPool(db, ownPool);
    await db.destroy();
    await withServerConnection(config.mysql, (conn) => conn.query(`DROP DATABASE IF EXISTS \`${database}\``));
  }
}
