import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** RUNNING while the bill is compared; COMPLETED with its counts; EMPTY when WeChat had no bill for the day. */
export type ReconciliationRunStatus = 'RUNNING' | 'COMPLETED' | 'EMPTY' | 'FAILED';

/** One reconciliation of one merchant's bill of one Beijing date; a re-run of that date reuses the row. */
@Entity('hub_reconciliation_run')
@Index('uk_hub_reconciliation_run_day', ['channel', 'merchant', 'billDate'], { unique: true })
@Index('idx_hub_reconciliation_run_date', ['billDate'])
export class HubReconciliationRun {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  /** WECHAT */
  @Column({ type: 'varchar', length: 16 })
  channel!: string;

  /** mchid */
  @Column({ type: 'varchar', length: 64 })
  merchant!: string;

  /** Beijing date, YYYY-MM-DD */
  @Column({ name: 'bill_date', type: 'date' })
  billDate!: string;

  @Column({ type: 'varchar', length: 16 })
  status!: ReconciliationRunStatus;

  @Column({ name: 'bill_rows', type: 'int', unsigned: true, default: 0 })
  billRows!: number;

  @Column({ name: 'bill_payment_count', type: 'int', unsigned: true, default: 0 })
  billPaymentCount!: number;

  /** fen */
  @Column({ name: 'bill_payment_total', type: 'bigint', default: 0 })
  billPaymentTotal!: string;

  @Column({ name: 'bill_refund_count', type: 'int', unsigned: true, default: 0 })
  billRefundCount!: number;

  /** fen */
  @Column({ name: 'bill_refund_total', type: 'bigint', default: 0 })
  billRefundTotal!: string;

  @Column({ name: 'local_payment_count', type: 'int', unsigned: true, default: 0 })
  localPaymentCount!: number;

  /** fen */
  @Column({ name: 'local_payment_total', type: 'bigint', default: 0 })
  localPaymentTotal!: string;

  @Column({ name: 'local_refund_count', type: 'int', unsigned: true, default: 0 })
  localRefundCount!: number;

  /** fen */
  @Column({ name: 'local_refund_total', type: 'bigint', default: 0 })
  localRefundTotal!: string;

  @Column({ name: 'discrepancy_count', type: 'int', unsigned: true, default: 0 })
  discrepancyCount!: number;

  @Column({ name: 'auto_fixed_count', type: 'int', unsigned: true, default: 0 })
  autoFixedCount!: number;

  /** SHA1 of the uncompressed bill, as WeChat announced and the download matched */
  @Column({ name: 'bill_hash', type: 'varchar', length: 64, nullable: true })
  billHash!: string | null;

  @Column({ name: 'job_id', type: 'varchar', length: 200, nullable: true })
  jobId!: string | null;

  @Column({ type: 'varchar', length: 1000, nullable: true })
  error!: string | null;

  @Column({ name: 'started_time', type: 'datetime', precision: 3 })
  startedTime!: Date;

  @Column({ name: 'finished_time', type: 'datetime', precision: 3, nullable: true })
  finishedTime!: Date | null;

  @Column({ name: 'created_time', type: 'datetime', precision: 3 })
  createdTime!: Date;

  @Column({ name: 'updated_time', type: 'datetime', precision: 3 })
  updatedTime!: Date;
}
