import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { DiscountCouponCode, type CouponCodeStatus } from '../../../entities/marketing/discount-coupon-code.entity';
import { sqlTable } from '../../../entities/raw-sql';
import { BusinessSource, OperationType, type AuditEntry } from '../../../entities/dms/audit';
import { RetryableError } from '../../../lib/errors';
import { formatBeijing } from '../../../lib/time';

/** Statuses a code leaves when its validity ends; USED, TIME_OUT and UNSEND (never handed out) stay. */
export const EXPIRING_STATUSES: readonly CouponCodeStatus[] = ['UNOPEN', 'UNUSED'];
const EXPIRED: CouponCodeStatus = 'TIME_OUT';
/** What the issue allows one statement, so a lock is never held long. */
const SLOW_STATEMENT_MS = 100;
/** Windows' worth of index entries the range probe reads at most (see dueIdRange). */
const BOUNDS_PROBE_WINDOWS = 2;
/** Windows in flight at once, each on its own connection. */
const DEFAULT_LANES = 2;
/** Result and audit key of codes without a `discount_coupon_id`: ids start at 1, so it names no coupon. */
export const NO_COUPON_ID = '0';

type Timed = <T>(kind: string, statement: () => Promise<T>) => Promise<T>;

export interface CouponExpiryOptions {
  db: DataSource;
  /** Codes whose `effect_end_time` is strictly before this expire; one exactly at it is still valid. */
  now: Date;
  /** Primary-key ids per window: the most rows one statement reads and locks. */
  batchSize: number;
  /** Windows in flight at once (connections); default 2. */
  lanes?: number;
  /** Checked between windows: a window either commits whole or not at all. */
  signal?: AbortSignal;
  /** Called after each committed window with the running total. */
  onWindow?: (expired: number) => Promise<void>;
  /** Writes one `dms_business_log` row in the given transaction (`ctx.audit`). */
  audit: (manager: EntityManager, entry: AuditEntry) => Promise<void>;
  /** Names the run in each audit row (the job id). */
  runId: string;
}

export interface CouponExpiryOutcome {
  expired: number;
  /** Codes expired by this run per `discount_coupon_id`. */
  coupons: Map<string, number>;
  windows: number;
  /** The slowest single SQL statement of the run and which it was (bounds, update), for the benchmark. */
  longestStatement: { ms: number; kind: string };
  /** Statements that took over 100 ms (a loaded server, or a window too wide). */
  slowStatements: number;
  /** Milliseconds spent per kind: bounds and update statements, whole windows, the audit transaction. */
  msByKind: Record<string, number>;
}

/**
 * Expires due codes in primary-key windows, each one short transaction (see expireWindow), walked
 * by `lanes` connections at once: each window's statements stay short, and the server's cores are
 * used as a single big UPDATE would use them. A second run at the same time waits on a window's
 * locks, then finds those codes TIME_OUT and counts none of them. Audit rows (one per coupon) are
 * written once at the end, or for the committed windows when the run stops early (shutdown, a
 * database error); a process killed outright loses them for its committed windows.
 */
export async function expireDueCoupons(options: CouponExpiryOptions): Promise<CouponExpiryOutcome> {
  const { db, now, batchSize } = options;
  const table = sqlTable(db.manager, DiscountCouponCode);
  const outcome: CouponExpiryOutcome = { expired: 0, coupons: new Map(), windows: 0, longestStatement: { ms: 0, kind: 'none' }, slowStatements: 0, msByKind: {} };
  const timed: Timed = async (kind, statement) => {
    const started = performance.now();
    try {
      return await statement();
    } finally {
      const ms = performance.now() - started;
      outcome.msByKind[kind] = (outcome.msByKind[kind] ?? 0) + ms;
      if (ms > SLOW_STATEMENT_MS) outcome.slowStatements += 1;
      if (ms > outcome.longestStatement.ms) outcome.longestStatement = { ms, kind };
    }
  };
  const statuses = EXPIRING_STATUSES.map(() => '?').join(', ');
  const dueSql = `status IN (${statuses}) AND effect_end_time < ?`;
  const dueParams = [...EXPIRING_STATUSES, now];

  const bounds = await timed('bounds', () => dueIdRange(db, table.path, dueSql, dueParams, batchSize * BOUNDS_PROBE_WINDOWS));
  if (!bounds) return outcome;
  let next = bounds.first - 1n;
  let stopped = false;
  /** The next window, or null once the range is walked or a lane failed; lanes share it, so each window is taken once. */
  const takeWindow = (): [string, string] | null => {
    if (stopped || next >= bounds.last) return null;
    const after = next;
    next = after + BigInt(batchSize) > bounds.last ? bounds.last : after + BigInt(batchSize);
    return [after.toString(), next.toString()];
  };
  const lane = async (): Promise<void> => {
    // A connection of its own: the window's tally lives in a session variable.
    const runner = db.createQueryRunner();
    try {
      await laneWindows(runner);
    } finally {
      await runner.query('SET @expired_coupon_ids = NULL').catch(() => undefined);
      await runner.release();
    }
  };
  const laneWindows = async (runner: QueryRunner): Promise<void> => {
    for (let window = takeWindow(); window; window = takeWindow()) {
      let counted: Map<string, number>;
      try {
        options.signal?.throwIfAborted();
        counted = await expireWindow(runner, timed, { table: table.path, dueSql, dueParams, now, window });
      } catch (err) {
        stopped = true;
        throw err;
      }
      // Counted once committed: a window that failed to commit changed nothing.
      for (const [couponId, n] of counted) {
        outcome.coupons.set(couponId, (outcome.coupons.get(couponId) ?? 0) + n);
        outcome.expired += n;
      }
      outcome.windows += 1;
      await options.onWindow?.(outcome.expired);
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: options.lanes ?? DEFAULT_LANES }, lane));
  const failed = lanes.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // The committed windows are real changes: record them before handing the failure on.
    await writeCouponAudits(options, outcome).catch(() => undefined);
    throw failed.reason;
  }
  const auditStarted = performance.now();
  await writeCouponAudits(options, outcome);
  outcome.msByKind.audit = performance.now() - auditStarted;
  return outcome;
}

interface WindowQuery {
  table: string;
  dueSql: string;
  dueParams: unknown[];
  now: Date;
  /** Exclusive lower and inclusive upper id. */
  window: [string, string];
}

/**
 * One window, one UPDATE in a short transaction. The statement appends the coupon id of each row it
 * changes to a session variable of its connection: SET expressions run only for rows the UPDATE
 * changes, after it has locked them and checked them against the predicate again, so a code another
 * run expired first is not counted here. The tally must equal the rows changed, or the window rolls
 * back and is retried. One statement per window reads each row once.
 */
async function expireWindow(runner: QueryRunner, timed: Timed, q: WindowQuery): Promise<Map<string, number>> {
  await runner.startTransaction();
  try {
    await runner.query('SET @expired_coupon_ids = ?', ['']);
    const result = (await timed('update', () =>
      runner.query(
        `UPDATE ${q.table} FORCE INDEX (PRIMARY)
         SET status = ?, updated_time = IF((@expired_coupon_ids := CONCAT(@expired_coupon_ids, IFNULL(discount_coupon_id, ${NO_COUPON_ID}), ',')) IS NULL, NULL, ?)
         WHERE id > ? AND id <= ? AND ${q.dueSql}`,
        [EXPIRED, q.now, ...q.window, ...q.dueParams],
      ),
    )) as { affectedRows: number };
    const [tally] = (await runner.query('SELECT @expired_coupon_ids AS ids')) as { ids: string | null }[];
    const counted = new Map<string, number>();
    let total = 0;
    for (const couponId of (tally?.ids ?? '').split(',')) {
      if (couponId === '') continue;
      counted.set(couponId, (counted.get(couponId) ?? 0) + 1);
      total += 1;
    }
    if (total !== result.affectedRows) throw new RetryableError(`coupon window ${q.window.join('..')}: changed ${result.affectedRows}, tallied ${total}`);
    await runner.commitTransaction();
    return counted;
  } catch (err) {
    if (runner.isTransactionActive) await runner.rollbackTransaction();
    throw err;
  }
}

/**
 * The id range to walk, read through the (status, effect_end_time) index, at most `cap` entries of
 * it: fewer due codes give their exact first and last ids, so untouched ranges are skipped; more
 * give the table's own ends, as reading all their index entries would cost about what the empty
 * windows it saves cost, in one long statement.
 */
async function dueIdRange(db: DataSource, table: string, dueSql: string, dueParams: unknown[], cap: number): Promise<{ first: bigint; last: bigint } | null> {
  const [probe] = await db.query<{ first: string | null; last: string | null; n: string | number }[]>(
    `SELECT MIN(id) AS first, MAX(id) AS last, COUNT(*) AS n
     FROM (SELECT id FROM ${table} FORCE INDEX (idx_discount_coupon_code_status_end) WHERE ${dueSql} LIMIT ?) due`,
    [...dueParams, cap],
  );
  if (!probe?.first || !probe.last) return null;
  if (Number(probe.n) < cap) return { first: BigInt(probe.first), last: BigInt(probe.last) };
  const [ends] = await db.query<{ first: string; last: string }[]>(`SELECT MIN(id) AS first, MAX(id) AS last FROM ${table}`);
  return ends ? { first: BigInt(ends.first), last: BigInt(ends.last) } : null;
}

/** One audit row per coupon with this run's count, all in one transaction. */
async function writeCouponAudits(options: CouponExpiryOptions, outcome: CouponExpiryOutcome): Promise<void> {
  if (outcome.coupons.size === 0) return;
  const expiredBefore = formatBeijing(options.now);
  await options.db.transaction(async (manager) => {
    for (const [couponId, count] of outcome.coupons) {
      await options.audit(manager, {
        businessNo: couponId,
        source: BusinessSource.COUPON,
        operation: OperationType.UPDATE,
        oldValue: { status: EXPIRING_STATUSES.join('|') },
        newValue: { status: EXPIRED, count, run: options.runId, expiredBefore },
        remark: `coupon-expire: ${count} codes TIME_OUT`,
      });
    }
  });
}
