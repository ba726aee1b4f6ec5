import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type NotifyChannel = 'WECHAT' | 'APPLE';

/**
 * `pay_notify_log` (the marketing DDL names it; working columns in docs/data.md): every verified payment
 * callback, once per notification id. `handled` turns 1 when its job has applied it; a sweeper
 * enqueues verified rows that stay unhandled.
 */
@Entity('pay_notify_log')
@Index('uk_pay_notify_log_notify_id', ['notifyId'], { unique: true })
@Index('idx_pay_notify_log_pending', ['verified', 'handled', 'id'])
@Index('idx_pay_notify_log_out_trade_no', ['outTradeNo'])
export class PayNotifyLog {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'varchar', length: 16 })
  channel!: NotifyChannel;

  /** mchid, or the app's bundle id */
  @Column({ type: 'varchar', length: 64 })
  merchant!: string;

  /** WeChat's notification id, Apple's notificationUUID */
  @Column({ name: 'notify_id', type: 'varchar', length: 64 })
  notifyId!: string;

  @Column({ name: 'event_type', type: 'varchar', length: 64 })
  eventType!: string;

  @Column({ name: 'out_trade_no', type: 'varchar', length: 64, nullable: true })
  outTradeNo!: string | null;

  @Column({ name: 'out_refund_no', type: 'varchar', length: 64, nullable: true })
  outRefundNo!: string | null;

  @Column({ name: 'transaction_id', type: 'varchar', length: 64, nullable: true })
  transactionId!: string | null;

  /** The body as received: verifiable again later, decrypted only by the job. */
  @Column({ name: 'raw_body', type: 'mediumtext' })
  rawBody!: string;

  @Column({ type: 'tinyint', default: 0 })
  verified!: number;

  @Column({ type: 'tinyint', default: 0 })
  handled!: number;

  @Column({ type: 'varchar', length: 1000, nullable: true })
  error!: string | null;

  @Column({ name: 'created_time', type: 'datetime' })
  createdTime!: Date;

  @Column({ name: 'updated_time', type: 'datetime' })
  updatedTime!: Date;
}
