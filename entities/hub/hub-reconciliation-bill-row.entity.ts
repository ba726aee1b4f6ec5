import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * The bill of a run while it is compared: loaded in multi-row inserts as the download streams, so
 * the comparison is set-based SQL and Node never holds the day's trade numbers. Deleted when the run ends.
 * Only what the comparison reads is kept (the summary totals are checked as the bill streams): every
 * byte of a row is written and deleted a million times on a big day.
 */
@Entity('hub_reconciliation_bill_row')
export class HubReconciliationBillRow {
  // Keyed by (run, out_trade_no, line) and no other index: every comparison looks rows up by trade
  // number (refund rows carry their payment's), a run's rows are read in trade-number order (the
  // order of the local unique keys they are joined with), and loading and deleting maintain one tree.
  @PrimaryColumn({ name: 'run_id', type: 'bigint', unsigned: true })
  runId!: string;

  @PrimaryColumn({ name: 'out_trade_no', type: 'varchar', length: 64 })
  outTradeNo!: string;

  /** Line of the bill file (1 = the first data row) */
  @PrimaryColumn({ name: 'line_no', type: 'int', unsigned: true })
  lineNo!: number;

  /** SUCCESS (a payment), REFUND (a refund row), or another 交易状态 as written */
  @Column({ name: 'trade_state', type: 'varchar', length: 32 })
  tradeState!: string;

  @Column({ name: 'transaction_id', type: 'varchar', length: 64 })
  transactionId!: string;

  /** empty for payment rows */
  @Column({ name: 'out_refund_no', type: 'varchar', length: 64, default: '' })
  outRefundNo!: string;

  /** 订单金额 (27-column bills) else 应结订单金额 + 代金券金额, fen */
  @Column({ name: 'order_amount', type: 'bigint' })
  orderAmount!: string;

  /** 退款金额, fen */
  @Column({ name: 'refund_amount', type: 'bigint' })
  refundAmount!: string;

  @Column({ name: 'refund_status', type: 'varchar', length: 32, default: '' })
  refundStatus!: string;
}
