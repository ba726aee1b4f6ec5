import type { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { DiscountCouponCode, type CouponCodeStatus } from '../../../entities/marketing/discount-coupon-code.entity';
import { sqlTable } from '../../../entities/raw-sql';
import { BusinessSource, OperationType, type AuditEntry } from '../../../entities/dms/audit';
import { RetryableError } from '../../../lib/errors';
import { formatBeijing } from '../../../lib/time';

/** Statuses a code leaves when its validity ends; USED, TIME_OUT and UNSEND (never handed out) stay. */
export const EXPIRING_STATUSES: readonly CouponCodeStatus[] = ['UNOPEN', 'UNUSED'];
const EXPIRED: CouponCodeStatus = 'TIME_OUT';
/** Windows' worth of index entries the range probe reads at most (see dueIdRange). */
const BOUNDS_PROBE_WINDOWS = 2;
/** Windows in flight at once, each on its own connection. */
const DEFAULT_LANES = 2;
/** Result and audit key of codes without a `discount_coupon_id`: ids start at 1, so it names no coupon. */
export const NO_COUPON_ID = '0';

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
  /** Called after each committed window: codes expired so far, and windows done out of the range's windows (a percentage for the board). */
  onWindow?: (expired: number, windows: { done: number; total: number }) => Promise<void>;
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
}

/** The due predicate, shared by the range probe, each window's read and its UPDATE. */
interface Due {
  table: string;
  sql: string;
  params: unknown[];
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
  const due: Due = {
    table: sqlTable(db.manager, DiscountCouponCode).path,
    sql: `status IN (${EXPIRING_STATUSES.map(() => '?').join(', ')}) AND effect_end_time < ?`,
    params: [...EXPIRING_STATUSES, now],
  };
  const outcome: CouponExpiryOutcome = { expired: 0, coupons: new Map(), windows: 0 };
  const bounds = await dueIdRange(db, due, batchSize * BOUNDS_PROBE_WINDOWS);
  if (!bounds) return outcome;
  const windows = new IdWindows(bounds.first, bounds.last, batchSize);
  const lane = async (): Promise<void> => {
    const runner = db.createQueryRunner();
    try {
      for (let window = windows.take(); window; window = windows.take()) {
        options.signal?.throwIfAborted();
        addCounts(outcome, await expireWindow(runner, due, now, window));
        await options.onWindow?.(outcome.expired, { done: outcome.windows, total: windows.count });
      }
    } catch (err) {
      windows.stop();
      throw err;
    } finally {
      await runner.release();
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: options.lanes ?? DEFAULT_LANES }, lane));
  const failed = lanes.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // The committed windows are real changes: record them before handing the failure on.
    await writeCouponAudits(options, outcome).catch(() => undefined);
    throw failed.reason;
  }
  await writeCouponAudits(options, outcome);
  return outcome;
}

/** The id range cut into windows of `size` (exclusive lower, inclusive upper id), each handed out once across lanes. */
class IdWindows {
  private next: bigint;
  private stopped = false;
  /** How many windows the range makes. */
  readonly count: number;

  constructor(
    first: bigint,
    private readonly last: bigint,
    private readonly size: number,
  ) {
    this.next = first - 1n;
    const span = last - first + 1n;
    this.count = Number((span + BigInt(size) - 1n) / BigInt(size));
  }

  /** The next window, or null once the range is walked or a lane failed. */
  take(): [string, string] | null {
    if (this.stopped || this.next >= this.last) return null;
    const after = this.next;
    this.next = after + BigInt(this.size) > this.last ? this.last : after + BigInt(this.size);
    return [after.toString(), this.next.toString()];
  }

  stop(): void {
    this.stopped = true;
  }
}

/** Adds a committed window's counts: a window that failed to commit changed nothing and adds none. */
function addCounts(outcome: CouponExpiryOutcome, counted: Map<string, number>): void {
  for (const [couponId, n] of counted) {
    outcome.coupons.set(couponId, (outcome.coupons.get(couponId) ?? 0) + n);
    outcome.expired += n;
  }
  outcome.windows += 1;
}

/**
 * One window: its due codes read, then changed by id under the same predicate, in one short
 * transaction. The UPDATE changes only rows the read returned, so when it changes as many as were
 * read, it changed exactly those, and the counts per coupon are theirs. Fewer means another run
 * expired some of them meanwhile: the window rolls back and is done again with a locking read,
 * which waits for that run and reads what it committed. Still unequal, it is retried later.
 */
async function expireWindow(runner: QueryRunner, due: Due, now: Date, window: [string, string]): Promise<Map<string, number>> {
  const counted = (await tryWindow(runner, due, now, window, false)) ?? (await tryWindow(runner, due, now, window, true));
  if (!counted) throw new RetryableError(`coupon window ${window.join('..')}: changed other rows than it read`);
  return counted;
}

/** The window's counts per coupon once committed, or null (rolled back) when the UPDATE changed fewer rows than were read. */
async function tryWindow(runner: QueryRunner, due: Due, now: Date, window: [string, string], locking: boolean): Promise<Map<string, number> | null> {
  await runner.startTransaction();
  try {
    const rows = (await runner.query(
      `SELECT id, IFNULL(discount_coupon_id, ${NO_COUPON_ID}) AS coupon FROM ${due.table} FORCE INDEX (PRIMARY)
       WHERE id > ? AND id <= ? AND ${due.sql}${locking ? ' FOR UPDATE' : ''}`,
      [...window, ...due.params],
    )) as { id: string | number; coupon: string | number }[];
    if (rows.length > 0) {
      const result = (await runner.query(`UPDATE ${due.table} SET status = ?, updated_time = ? WHERE id IN (?) AND ${due.sql}`, [
        EXPIRED,
        now,
        rows.map((r) => r.id),
        ...due.params,
      ])) as { affectedRows: number };
      if (result.affectedRows !== rows.length) {
        await runner.rollbackTransaction();
        return null;
      }
    }
    await runner.commitTransaction();
    const counted = new Map<string, number>();
    for (const { coupon } of rows) counted.set(String(coupon), (counted.get(String(coupon)) ?? 0) + 1);
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
async function dueIdRange(db: DataSource, due: Due, cap: number): Promise<{ first: bigint; last: bigint } | null> {
  const [probe] = await db.query<{ first: string | null; last: string | null; n: string | number }[]>(
    `SELECT MIN(id) AS first, MAX(id) AS last, COUNT(*) AS n
     FROM (SELECT id FROM ${due.table} FORCE INDEX (idx_discount_coupon_code_status_end) WHERE ${due.sql} LIMIT ?) due`,
    [...due.params, cap],
  );
  if (!probe?.first || !probe.last) return null;
  if (Number(probe.n) < cap) return { first: BigInt(probe.first), last: BigInt(probe.last) };
  const [ends] = await db.query<{ first: string; last: string }[]>(`SELECT MIN(id) AS first, MAX(id) AS last FROM ${due.table}`);
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
