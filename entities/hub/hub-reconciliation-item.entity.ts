import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * APPID_MISMATCH: a payment reported for another app than its order's (the `*_status` columns hold
 * the two appids). REFUNDED_AMOUNT_MISMATCH: `payment_order.refunded_amount` (local) differs from
 * what its REFUNDED refunds, each a SUCCESS WeChat reported, add up to (wechat side).
 */
export const WECHAT_RECONCILIATION_KINDS = ['MISSING_LOCALLY', 'MISSING_AT_WECHAT', 'AMOUNT_MISMATCH', 'STATUS_MISMATCH', 'REFUND_MISMATCH', 'APPID_MISMATCH', 'REFUNDED_AMOUNT_MISMATCH'] as const;
/**
 * Apple reconciles entitlements, not money: a notification Apple sent that the hub never handled,
 * and a subscription whose status or expiry at Apple differs from apple_order (or that apple_order lacks).
 * On these items the `wechat_*` columns hold Apple's side.
 */
export const APPLE_RECONCILIATION_KINDS = ['APPLE_MISSED_NOTIFICATION', 'APPLE_STATUS_MISMATCH', 'APPLE_EXPIRES_MISMATCH', 'APPLE_UNKNOWN_TRANSACTION'] as const;
export const RECONCILIATION_KINDS = [...WECHAT_RECONCILIATION_KINDS, ...APPLE_RECONCILIATION_KINDS] as const;
export type ReconciliationKind = (typeof RECONCILIATION_KINDS)[number];

/**
 * One discrepancy with both sides' values. Bill items belong to a run (a re-run replaces them);
 * a callback whose amount differs from ours is an item without a run, kept once by `dedupe_key`.
 */
@Entity('hub_reconciliation_item')
@Index('idx_hub_reconciliation_item_run_kind', ['runId', 'kind', 'id'])
@Index('uk_hub_reconciliation_item_dedupe', ['dedupeKey'], { unique: true })
@Index('idx_hub_reconciliation_item_out_trade_no', ['outTradeNo'])
export class HubReconciliationItem {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  @Column({ name: 'run_id', type: 'bigint', unsigned: true, nullable: true })
  runId!: string | null;

  /** BILL, NOTIFICATION or SYNC; Apple's HISTORY (notification history) or STATUS (status comparison): what found it */
  @Column({ type: 'varchar', length: 16 })
  source!: string;

  @Column({ type: 'varchar', length: 32 })
  kind!: ReconciliationKind;

  @Column({ type: 'varchar', length: 64, nullable: true })
  merchant!: string | null;

  /** Apple items: the original transaction id (the subscription) */
  @Column({ name: 'out_trade_no', type: 'varchar', length: 64 })
  outTradeNo!: string;

  @Column({ name: 'out_refund_no', type: 'varchar', length: 64, nullable: true })
  outRefundNo!: string | null;

  @Column({ name: 'transaction_id', type: 'varchar', length: 64, nullable: true })
  transactionId!: string | null;

  /** payment_order, android_order, refund_order, apple_order or pay_notify_log: where our side lives (NULL when we have none) */
  @Column({ name: 'local_table', type: 'varchar', length: 32, nullable: true })
  localTable!: string | null;

  /** fen */
  @Column({ name: 'wechat_amount', type: 'bigint', nullable: true })
  wechatAmount!: string | null;

  /** fen */
  @Column({ name: 'local_amount', type: 'bigint', nullable: true })
  localAmount!: string | null;

  /** The channel's side: WeChat's trade state, or Apple's (seed status code, expiry, notification type, error code) */
  @Column({ name: 'wechat_status', type: 'varchar', length: 32, nullable: true })
  wechatStatus!: string | null;

  @Column({ name: 'local_status', type: 'varchar', length: 32, nullable: true })
  localStatus!: string | null;

  /** What the hub did about it: SYNC_ENQUEUED for the safe kind, NULL when left to ops */
  @Column({ name: 'auto_fix', type: 'varchar', length: 32, nullable: true })
  autoFix!: string | null;

  @Column({ name: 'dedupe_key', type: 'varchar', length: 191, nullable: true })
  dedupeKey!: string | null;

  @Column({ name: 'created_time', type: 'datetime', precision: 3 })
  createdTime!: Date;
}
