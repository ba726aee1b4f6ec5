import type { AfterQueryEvent, DataSource } from 'typeorm';
import { COUPON_WINDOW_DEFAULT } from '../jobs/marketing/coupon/coupon-expire.job';
import { expireDueCoupons, type CouponExpiryOutcome } from '../jobs/marketing/coupon/coupon-expiry';
import { auditAt } from '../entities/dms/audit';
import type { Config } from '../lib/config';
import { openComparedDatabases } from './bench-database';
import { median, type BenchRow } from './table';

/**
 * coupon-expire over 1,000,000 codes, 500,000 due across 1,000 coupons and interleaved with valid,
 * used, expired and unsent ones, against one set-based UPDATE on an identical copy in another database.
 */
const CODES = 1_000_000;
const COUPONS = 1_000;
const OURS = 'jobhub_bench_coupons';
const BASELINE = 'jobhub_bench_coupons_base';
const TABLE = 'discount_coupon_code';
const NOW = new Date();

/** Codes per coupon: each coupon's codes are one block of consecutive ids, as a send rule creates them. */
const PER_COUPON = CODES / COUPONS;

/**
 * Even rows are due (UNOPEN or UNUSED, ended 17 to 33 minutes plus the coupon's number of minutes
 * ago); odd rows are valid UNUSED codes, or USED, TIME_OUT and UNSEND codes that ended too: none may
 * change. Within a coupon the end time rises with the id, as codes handed out later end later.
 */
const FILL_SQL = `
INSERT INTO ${TABLE} (id, code, discount_coupon_id, discount_amount, member_id, effect_start_time, effect_end_time,
  give_member_time, dicount_coupon_name, status, deleted, created_time, updated_time)
SELECT s.seq, CONCAT('BC', LPAD(s.seq, 10, '0')), 1 + (s.seq - 1) DIV ${PER_COUPON}, 500, 1 + s.seq % 100000,
  ? - INTERVAL 30 DAY,
  CASE WHEN s.seq % 10 IN (1, 3)
       THEN ? + INTERVAL (1 + (s.seq - 1) % ${PER_COUPON}) SECOND + INTERVAL ((s.seq - 1) DIV ${PER_COUPON}) MINUTE
       ELSE ? - INTERVAL (2000 - (s.seq - 1) % ${PER_COUPON}) SECOND - INTERVAL ((s.seq - 1) DIV ${PER_COUPON}) MINUTE END,
  ? - INTERVAL 20 DAY, CONCAT('满100减5 #', 1 + (s.seq - 1) DIV ${PER_COUPON}),
  CASE WHEN s.seq % 4 = 0 THEN 'UNOPEN' WHEN s.seq % 2 = 0 THEN 'UNUSED'
       WHEN s.seq % 10 IN (1, 3) THEN 'UNUSED' WHEN s.seq % 10 = 5 THEN 'USED'
       WHEN s.seq % 10 = 7 THEN 'TIME_OUT' ELSE 'UNSEND' END,
  0, ? - INTERVAL 20 DAY, ? - INTERVAL 20 DAY
FROM seq_1_to_${CODES} s`;

function prepare(config: Config): Promise<DataSource> {
  return openComparedDatabases(config, { ours: OURS, baseline: BASELINE }, [TABLE], async (db) => {
    await db.query(FILL_SQL, Array.from({ length: 6 }, () => NOW));
  });
}

/** Reads a table's rows and its status index, so neither side pays for the other's cold pages. */
async function warm(db: DataSource, database: string): Promise<void> {
  await db.query(`SELECT SUM(LENGTH(code)) FROM \`${database}\`.${TABLE} FORCE INDEX (PRIMARY)`);
  await db.query(`SELECT COUNT(effect_end_time) FROM \`${database}\`.${TABLE} FORCE INDEX (idx_discount_coupon_code_status_end)`);
}

/**
 * Waits (45 s at most) for InnoDB to purge the undo of the previous step and write back the pages
 * it dirtied, so the next measured side does not pay for the other's leftovers.
 */
async function settle(db: DataSource): Promise<void> {
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    const [status] = await db.query<{ Status: string }[]>('SHOW ENGINE INNODB STATUS');
    const history = Number(/History list length (\d+)/.exec(status?.Status ?? '')?.[1] ?? 0);
    const pages = await db.query<{ Variable_name: string; Value: string }[]>("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_%'");
    const value = (name: string): number => Number(pages.find((r) => r.Variable_name === name)?.Value ?? 0);
    if (history < 5_000 && value('Innodb_buffer_pool_pages_dirty') < value('Innodb_buffer_pool_pages_total') / 10) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

interface Measured {
  rows: number;
  ms: number;
}

/** What a lock-holding statement may take at most (docs/architecture.md); longer ones are counted. */
const SLOW_STATEMENT_MS = 100;

/** Our run's statements as the bench sees them through TypeORM's query events: the run itself keeps no timings. */
interface Statements {
  longest: { ms: number; kind: string };
  slow: number;
  msByKind: Record<string, number>;
}

/** The statement's kind by its text: the range probe, a window's read, its UPDATE, or other (transactions, audit). */
function statementKind(sql: string): string {
  const text = sql.trimStart();
  if (text.startsWith('SELECT MIN(id)')) return 'bounds';
  if (text.startsWith('SELECT id')) return 'select';
  if (text.startsWith('UPDATE')) return 'update';
  return 'other';
}

/** Times every statement `db` runs while `run` runs. */
async function timingStatements<T>(db: DataSource, run: () => Promise<T>): Promise<{ value: T; statements: Statements }> {
  const statements: Statements = { longest: { ms: 0, kind: 'none' }, slow: 0, msByKind: {} };
  const subscriber = {
    afterQuery(event: AfterQueryEvent): void {
      const ms = event.executionTime ?? 0;
      const kind = statementKind(event.query);
      statements.msByKind[kind] = (statements.msByKind[kind] ?? 0) + ms;
      if (ms > SLOW_STATEMENT_MS) statements.slow += 1;
      if (ms > statements.longest.ms) statements.longest = { ms, kind };
    },
  };
  db.subscribers.push(subscriber);
  try {
    return { value: await run(), statements };
  } finally {
    db.subscribers.splice(db.subscribers.indexOf(subscriber), 1);
  }
}

async function runBaseline(db: DataSource): Promise<Measured> {
  await settle(db);
  await warm(db, BASELINE);
  const started = performance.now();
  const result = await db.query<{ affectedRows: number }>(
    `UPDATE \`${BASELINE}\`.${TABLE} SET status = 'TIME_OUT', updated_time = ? WHERE status IN ('UNOPEN', 'UNUSED') AND effect_end_time < ?`,
    [NOW, NOW],
  );
  return { rows: result.affectedRows, ms: performance.now() - started };
}

type OursMeasured = Measured & { outcome: CouponExpiryOutcome; statements: Statements };

async function runOurs(db: DataSource, round: number): Promise<OursMeasured> {
  await settle(db);
  await warm(db, OURS);
  const started = performance.now();
  const { value: outcome, statements } = await timingStatements(db, () =>
    expireDueCoupons({ db, now: NOW, batchSize: COUPON_WINDOW_DEFAULT, audit: auditAt(() => NOW), runId: `bench-${round}` }),
  );
  return { rows: outcome.expired, ms: performance.now() - started, outcome, statements };
}

/** Both sides must end in the same state, with one audit row per coupon. */
async function check(db: DataSource, ours: OursMeasured, base: Measured, round: number): Promise<void> {
  const [diff] = await db.query<{ n: string }[]>(
    `SELECT COUNT(*) AS n FROM \`${OURS}\`.${TABLE} o JOIN \`${BASELINE}\`.${TABLE} b ON b.id = o.id WHERE o.status <> b.status`,
  );
  const [audits] = await db.query<{ n: string }[]>(`SELECT COUNT(*) AS n FROM \`${OURS}\`.dms_business_log WHERE new_value LIKE ?`, [`%"run":"bench-${round}"%`]);
  if (ours.rows !== base.rows || Number(diff?.n) !== 0 || Number(audits?.n) !== ours.outcome.coupons.size || ours.outcome.coupons.size !== COUPONS) {
    throw new Error(`round ${round}: coupon-expire changed ${ours.rows} rows, the UPDATE ${base.rows}; ${diff?.n} differ; ${audits?.n} audit rows`);
  }
}

/** Puts the due codes of both copies back as they were loaded, for the next round. */
async function reset(db: DataSource): Promise<void> {
  for (const database of [OURS, BASELINE]) {
    await db.query(
      `UPDATE \`${database}\`.${TABLE} SET status = IF(id % 4 = 0, 'UNOPEN', 'UNUSED'), updated_time = ? - INTERVAL 20 DAY WHERE id % 2 = 0`,
      [NOW],
    );
  }
}

const rate = (m: Measured): number => m.rows / (m.ms / 1000);

export async function benchCouponExpire(config: Config): Promise<BenchRow[]> {
  const db = await prepare(config);
  try {
    // Two rounds in opposite orders, so neither side always runs on the other's leftovers.
    const rounds: { ours: OursMeasured; base: Measured }[] = [];
    for (const round of [1, 2]) {
      if (round > 1) await reset(db);
      let measured;
      if (round === 1) {
        const ours = await runOurs(db, round);
        measured = { ours, base: await runBaseline(db) };
      } else {
        const base = await runBaseline(db);
        measured = { ours: await runOurs(db, round), base };
      }
      await check(db, measured.ours, measured.base, round);
      rounds.push(measured);
    }
    const ratios = rounds.map((r) => rate(r.ours) / rate(r.base));
    const longest = rounds.map((r) => r.ours.statements.longest).reduce((a, b) => (b.ms > a.ms ? b : a));
    const fmt = (values: number[]): string => values.map((v) => Math.round(v).toLocaleString('en-US')).join(' / ');
    const last = rounds[rounds.length - 1] as (typeof rounds)[number];
    return [
      {
        scenario: `coupon-expire: ${CODES.toLocaleString('en-US')} codes, ${last.base.rows.toLocaleString('en-US')} due`,
        unit: 'rows/s',
        baseline: { label: 'one UPDATE', value: median(rounds.map((r) => rate(r.base))) },
        ours: { label: `windows of ${COUPON_WINDOW_DEFAULT} ids`, value: median(rounds.map((r) => rate(r.ours))) },
        ratio: median(ratios),
        targetRatio: 0.8,
        notes:
          `rounds (ours first, then the UPDATE first): ours ${fmt(rounds.map((r) => r.ours.ms))} ms, the UPDATE ${fmt(rounds.map((r) => r.base.ms))} ms, ` +
          `ratios ${ratios.map((r) => r.toFixed(3)).join(' / ')}; longest single statement of ours ${longest.ms.toFixed(1)} ms (${longest.kind}, ` +
          `${last.ours.outcome.windows} windows a round, ${fmt(rounds.map((r) => r.ours.statements.slow))} statements over 100 ms) against the single UPDATE holding its locks ${fmt(rounds.map((r) => r.base.ms))} ms; ` +
          `ms by kind in the last round ${JSON.stringify(last.ours.statements.msByKind, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v) : v))}; ` +
          `${COUPONS} coupons, one audit row each a round; final states identical`,
      },
    ];
  } finally {
    await db.destroy();
  }
}
