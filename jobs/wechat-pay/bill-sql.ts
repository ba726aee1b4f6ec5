import { escape } from 'mysql2';
import type { DataSource, EntityManager } from 'typeorm';
import { AndroidOrder, AndroidOrderStatus } from '../../entities/app/android-order.entity';
import { HubReconciliationBillRow } from '../../entities/hub/hub-reconciliation-bill-row.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { HubReconciliationRun } from '../../entities/hub/hub-reconciliation-run.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import type { BillDetailRow } from '../../integrations/wechat-pay/wechat-pay.bill-parser';
import type { EntityClass } from '../define-job';

/**
 * The SQL of bill reconciliation: the bill is loaded into a staging table and compared with the
 * local tables by set-based statements inside MySQL, so Node never holds the day's trade numbers.
 */

/** A table as SQL names it: qualified by its database when its system lives in another one. */
export interface SqlTable {
  readonly sql: string;
  readonly name: string;
}

export interface ReconcileTables {
  readonly bill: SqlTable;
  readonly item: SqlTable;
  readonly run: SqlTable;
  readonly payment: SqlTable;
  readonly android: SqlTable;
  readonly refund: SqlTable;
}

function sqlTable(db: DataSource, entity: EntityClass): SqlTable {
  const meta = db.getMetadata(entity);
  return { sql: meta.database ? `\`${meta.database}\`.\`${meta.tableName}\`` : `\`${meta.tableName}\``, name: meta.tableName };
}

export function reconcileTables(db: DataSource): ReconcileTables {
  return {
    bill: sqlTable(db, HubReconciliationBillRow),
    item: sqlTable(db, HubReconciliationItem),
    run: sqlTable(db, HubReconciliationRun),
    payment: sqlTable(db, PaymentOrder),
    android: sqlTable(db, AndroidOrder),
    refund: sqlTable(db, RefundOrder),
  };
}

/** Affected rows of a DELETE/INSERT/UPDATE as the mysql driver reports it. */
export function affectedRows(result: unknown): number {
  if (result && typeof result === 'object' && 'affectedRows' in result) return Number((result as { affectedRows: unknown }).affectedRows) || 0;
  return 0;
}

/** Deletes in slices of `limit` rows, each its own short statement: a million staging rows never lock at once. */
export async function deleteInSlices(db: DataSource, table: SqlTable, runId: string, limit = 10_000): Promise<number> {
  let total = 0;
  for (;;) {
    const n = affectedRows(await db.query(`DELETE FROM ${table.sql} WHERE run_id = ? LIMIT ${limit}`, [runId]));
    total += n;
    if (n < limit) return total;
  }
}

const BILL_COLUMNS = 'run_id, line_no, trade_state, out_trade_no, transaction_id, out_refund_no, order_amount, refund_amount, refund_status';
/** Bill cells are ids and states: quoted as they are when they hold nothing but these characters. */
const PLAIN = /^[A-Za-z0-9_.:\- ]*$/;

function text(value: string): string {
  return PLAIN.test(value) ? `'${value}'` : escape(value);
}

function integer(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not an integer: ${value}`);
  return String(value);
}

/**
 * The multi-row INSERT of a batch of bill lines. The VALUES text is built here rather than by the
 * driver's placeholder formatting, which costs more CPU than parsing the bill (a million rows is 9
 * million parameters); anything not plain goes through the driver's own escaping. Built as soon as
 * a batch is parsed, so the row objects die young and only this one string waits for MySQL.
 */
export function billInsertSql(t: ReconcileTables, runId: string, rows: readonly BillDetailRow[]): string {
  if (!/^\d+$/.test(runId)) throw new RangeError(`not a run id: ${runId}`);
  const values: string[] = new Array<string>(rows.length);
  for (let i = 0; i < rows.length; i += 1) {
    const r = rows[i] as BillDetailRow;
    values[i] =
      `(${runId},${integer(r.lineNo)},${text(r.tradeState)},${text(r.outTradeNo)},${text(r.transactionId)},${text(r.outRefundNo)},` +
      `${integer(r.orderFen)},${integer(r.refundFen)},${text(r.refundStatus)})`;
  }
  return `INSERT INTO ${t.bill.sql} (${BILL_COLUMNS}) VALUES ${values.join(',')}`;
}

/*
 * The staging table is filled just before it is read, so its statistics may still describe it as
 * empty: FORCE INDEX (PRIMARY) keeps the optimizer from scanning it once per local row.
 */

/** Local statuses that mean "paid at WeChat" (a refund starts from a paid order). */
const PAID_STATUSES = "'PAY_SUCCESS','REFUNDING','REFUNDED','REFUND_FAILED'";
const ANDROID_PAID = `${AndroidOrderStatus.PAID},${AndroidOrderStatus.REFUNDED}`;
const ITEM_COLUMNS =
  'run_id, source, kind, merchant, out_trade_no, out_refund_no, transaction_id, local_table, wechat_amount, local_amount, wechat_status, local_status, auto_fix, created_time';

/** Refunds of the merchant that succeeded in the day; app refunds (no payment_order) are the default merchant's. */
const localRefundsOfDay = 'r.success_time >= ? AND r.success_time < ? AND (p.mchid = ? OR (p.id IS NULL AND ? = 1))';

export interface CompareScope {
  runId: string;
  mchid: string;
  /** App (android_order) payments belong to the default merchant. */
  isDefault: boolean;
  dayStart: Date;
  dayEnd: Date;
  now: Date;
  /** Refund rows the bill has: with none, the bill is not scanned for them. */
  billRefunds: number;
}

/**
 * Every comparison, each one INSERT … SELECT into the items table. Payments of the bill are read
 * once for three kinds (a constant table of kinds joined last on each kind's condition: STRAIGHT_JOIN,
 * since an optimizer that puts the 3-row table first reads the whole bill three times).
 */
export async function compareBill(db: DataSource, t: ReconcileTables, s: CompareScope): Promise<void> {
  const isDefault = s.isDefault ? 1 : 0;
  // READ COMMITTED: an INSERT … SELECT at REPEATABLE READ share-locks every payment row it reads,
  // which would hold up payment callbacks for as long as the comparison runs.
  // The statements read different rows and only insert: they run side by side on pooled connections.
  const work: Promise<unknown>[] = [];
  const run = (sql: string, params: unknown[]): void => {
    work.push(db.transaction('READ COMMITTED', (m: EntityManager) => m.query(sql, params)));
  };
  // Bill payments ⟕ payment_order, else android_order: missing locally, amount and status mismatches.
  run(
    `INSERT INTO ${t.item.sql} (${ITEM_COLUMNS})
     SELECT STRAIGHT_JOIN ?, 'BILL', k.kind, ?, b.out_trade_no, NULL, b.transaction_id,
            CASE WHEN p.id IS NOT NULL THEN '${t.payment.name}' WHEN a.oid IS NOT NULL THEN '${t.android.name}' END,
            b.order_amount, COALESCE(p.amount, a.order_amount), b.trade_state, COALESCE(p.pay_status, CAST(a.status AS CHAR)),
            CASE WHEN k.kind = 'STATUS_MISMATCH' THEN 'SYNC_ENQUEUED' END, ?
     FROM ${t.bill.sql} b FORCE INDEX (PRIMARY)
     LEFT JOIN ${t.payment.sql} p ON p.out_trade_no = b.out_trade_no
     LEFT JOIN ${t.android.sql} a ON ? = 1 AND p.id IS NULL AND a.oid = b.out_trade_no
     JOIN (SELECT 'MISSING_LOCALLY' AS kind UNION ALL SELECT 'AMOUNT_MISMATCH' UNION ALL SELECT 'STATUS_MISMATCH') k
       ON (k.kind = 'MISSING_LOCALLY' AND p.id IS NULL AND a.oid IS NULL)
       OR (k.kind = 'AMOUNT_MISMATCH' AND COALESCE(p.amount, a.order_amount) <> b.order_amount)
       OR (k.kind = 'STATUS_MISMATCH' AND (p.pay_status NOT IN (${PAID_STATUSES}) OR a.status NOT IN (${ANDROID_PAID})))
     WHERE b.run_id = ? AND b.trade_state = 'SUCCESS'`,
    [s.runId, s.mchid, s.now, isDefault, s.runId],
  );
  // Local payments of the day ⟕ bill: missing at WeChat.
  run(
    `INSERT INTO ${t.item.sql} (${ITEM_COLUMNS})
     SELECT ?, 'BILL', 'MISSING_AT_WECHAT', ?, p.out_trade_no, NULL, p.transaction_id, '${t.payment.name}', NULL, p.amount, NULL, p.pay_status, NULL, ?
     FROM ${t.payment.sql} p
     LEFT JOIN ${t.bill.sql} b FORCE INDEX (PRIMARY) ON b.run_id = ? AND b.out_trade_no = p.out_trade_no AND b.trade_state = 'SUCCESS'
     WHERE p.mchid = ? AND p.success_time >= ? AND p.success_time < ? AND b.run_id IS NULL
     ORDER BY p.success_time, p.id`,
    [s.runId, s.mchid, s.now, s.runId, s.mchid, s.dayStart, s.dayEnd],
  );
  if (s.isDefault) {
    run(
      `INSERT INTO ${t.item.sql} (${ITEM_COLUMNS})
       SELECT ?, 'BILL', 'MISSING_AT_WECHAT', ?, a.oid, NULL, a.tid, '${t.android.name}', NULL, a.order_amount, NULL, CAST(a.status AS CHAR), NULL, ?
       FROM ${t.android.sql} a
       LEFT JOIN ${t.bill.sql} b FORCE INDEX (PRIMARY) ON b.run_id = ? AND b.out_trade_no = a.oid AND b.trade_state = 'SUCCESS'
       WHERE a.pay_time >= ? AND a.pay_time < ? AND a.status IN (${ANDROID_PAID}) AND b.run_id IS NULL
       ORDER BY a.pay_time, a.oid`,
      [s.runId, s.mchid, s.now, s.runId, s.dayStart, s.dayEnd],
    );
  }
  // Bill refunds ⟕ refund_order: missing locally, amount differs, or not REFUNDED here.
  if (s.billRefunds > 0) {
    run(
      `INSERT INTO ${t.item.sql} (${ITEM_COLUMNS})
       SELECT ?, 'BILL', 'REFUND_MISMATCH', ?, b.out_trade_no, b.out_refund_no, b.transaction_id,
              CASE WHEN r.id IS NOT NULL THEN '${t.refund.name}' END, b.refund_amount, r.amount, b.refund_status, r.status, NULL, ?
       FROM ${t.bill.sql} b FORCE INDEX (PRIMARY)
       LEFT JOIN ${t.refund.sql} r ON r.out_refund_no = b.out_refund_no
       WHERE b.run_id = ? AND b.trade_state = 'REFUND' AND (r.id IS NULL OR r.amount <> b.refund_amount OR r.status <> 'REFUNDED')`,
      [s.runId, s.mchid, s.now, s.runId],
    );
  }
  // Local refunds that succeeded that day ⟕ bill: missing at WeChat.
  run(
    `INSERT INTO ${t.item.sql} (${ITEM_COLUMNS})
     SELECT ?, 'BILL', 'REFUND_MISMATCH', ?, r.out_trade_no, r.out_refund_no, r.transaction_id, '${t.refund.name}', NULL, r.amount, NULL, r.status, NULL, ?
     FROM ${t.refund.sql} r
     LEFT JOIN ${t.payment.sql} p ON p.out_trade_no = r.out_trade_no
     LEFT JOIN ${t.bill.sql} b FORCE INDEX (PRIMARY)
       ON b.run_id = ? AND b.out_trade_no = r.out_trade_no AND b.out_refund_no = r.out_refund_no AND b.trade_state = 'REFUND'
     WHERE ${localRefundsOfDay} AND b.run_id IS NULL
     ORDER BY r.success_time, r.id`,
    [s.runId, s.mchid, s.now, s.runId, s.dayStart, s.dayEnd, s.mchid, isDefault],
  );
  const failed = (await Promise.allSettled(work)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

export interface LocalTotals {
  paymentCount: number;
  paymentTotal: number;
  refundCount: number;
  refundTotal: number;
}

/** What our tables say the merchant took and refunded that day, fen. */
export async function localTotals(db: DataSource, t: ReconcileTables, s: CompareScope): Promise<LocalTotals> {
  type Sum = { n: string | number; total: string | number | null };
  const one = async (sql: string, params: unknown[]): Promise<{ n: number; total: number }> => {
    const [row] = (await db.query(sql, params)) as Sum[];
    return { n: Number(row?.n ?? 0), total: Number(row?.total ?? 0) };
  };
  const payments = await one(`SELECT COUNT(*) AS n, SUM(p.amount) AS total FROM ${t.payment.sql} p WHERE p.mchid = ? AND p.success_time >= ? AND p.success_time < ?`, [
    s.mchid,
    s.dayStart,
    s.dayEnd,
  ]);
  const app = s.isDefault
    ? await one(`SELECT COUNT(*) AS n, SUM(a.order_amount) AS total FROM ${t.android.sql} a WHERE a.pay_time >= ? AND a.pay_time < ? AND a.status IN (${ANDROID_PAID})`, [
        s.dayStart,
        s.dayEnd,
      ])
    : { n: 0, total: 0 };
  const refunds = await one(
    `SELECT COUNT(*) AS n, SUM(r.amount) AS total FROM ${t.refund.sql} r LEFT JOIN ${t.payment.sql} p ON p.out_trade_no = r.out_trade_no WHERE ${localRefundsOfDay}`,
    [s.dayStart, s.dayEnd, s.mchid, s.isDefault ? 1 : 0],
  );
  return { paymentCount: payments.n + app.n, paymentTotal: payments.total + app.total, refundCount: refunds.n, refundTotal: refunds.total };
}

/** Items of the run by kind. */
export async function countItems(db: DataSource, t: ReconcileTables, runId: string): Promise<Record<string, number>> {
  const rows = (await db.query(`SELECT kind, COUNT(*) AS n FROM ${t.item.sql} WHERE run_id = ? GROUP BY kind`, [runId])) as { kind: string; n: string | number }[];
  return Object.fromEntries(rows.map((r) => [r.kind, Number(r.n)]));
}

/** The out_trade_no of the run's STATUS_MISMATCH items after `afterId`, in id order. */
export async function statusMismatches(db: DataSource, t: ReconcileTables, runId: string, afterId: string, limit: number): Promise<{ id: string; outTradeNo: string }[]> {
  const rows = (await db.query(
    `SELECT id, out_trade_no AS outTradeNo FROM ${t.item.sql} WHERE run_id = ? AND kind = 'STATUS_MISMATCH' AND id > ? ORDER BY id LIMIT ${limit}`,
    [runId, afterId],
  )) as { id: string | number; outTradeNo: string }[];
  return rows.map((r) => ({ id: String(r.id), outTradeNo: r.outTradeNo }));
}
