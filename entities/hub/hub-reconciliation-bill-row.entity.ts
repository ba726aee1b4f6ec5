import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * The bill of a run while it is compared: loaded in multi-row inserts as the download streams, so
 * the comparison is set-based SQL and Node never holds the day's trade numbers. Deleted when the run ends.
 */
@Entity('hub_reconciliation_bill_row')
@Index('idx_hub_recon_bill_row_trade', ['runId', 'outTradeNo'])
@Index('idx_hub_recon_bill_row_refund', ['runId', 'outRefundNo'])
export class HubReconciliationBillRow {
  @PrimaryColumn({ name: 'run_id', type: 'bigint', unsigned: true })
  runId!: string;

  /** Line of the bill file (1 = the first data row) */
  @PrimaryColumn({ name: 'line_no', type: 'int', unsigned: true })
  lineNo!: number;

  /** SUCCESS (a payment), REFUND (a refund row), or another 交易状态 as written */
  @Column({ name: 'trade_state', type: 'varchar', length: 32 })
  tradeState!: string;

  @Column({ name: 'out_trade_no', type: 'varchar', length: 64 })
  outTradeNo!: string;

  @Column({ name: 'transaction_id', type: 'varchar', length: 64 })
  transactionId!: string;

  /** empty for payment rows */
  @Column({ name: 'out_refund_no', type: 'varchar', length: 64, default: '' })
  outRefundNo!: string;

  @Column({ name: 'refund_id', type: 'varchar', length: 64, default: '' })
  refundId!: string;

  /** 应结订单金额, fen */
  @Column({ name: 'settlement_amount', type: 'bigint' })
  settlementAmount!: string;

  /** 订单金额 (27-column bills) else 应结订单金额 + 代金券金额, fen */
  @Column({ name: 'order_amount', type: 'bigint' })
  orderAmount!: string;

  /** 退款金额, fen */
  @Column({ name: 'refund_amount', type: 'bigint' })
  refundAmount!: string;

  @Column({ name: 'refund_status', type: 'varchar', length: 32, default: '' })
  refundStatus!: string;

  @Column({ name: 'trade_time', type: 'datetime' })
  tradeTime!: Date;
}
