import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** The channels a delivery goes out on; each is one job. */
export type DeliveryChannel = 'sms' | 'wechat-template' | 'wechat-subscribe' | 'email';

/**
 * PENDING: owed, not yet tried (or tried and certainly not sent). SENDING: a call is in flight (or the
 * worker died during it). SENT / FAILED: final. UNKNOWN: the request left and its answer was lost, so
 * it may have gone out: never sent again blindly; a receipt or ops settle it.
 */
export type DeliveryStatus = 'PENDING' | 'SENDING' | 'SENT' | 'FAILED' | 'UNKNOWN';

/**
 * One outgoing message, written before the vendor is called: its unique `delivery_key` is what makes
 * a retry, a duplicate job or two workers send it once. The sweeper re-enqueues PENDING and SENDING
 * rows whose job Redis lost, from `job_name` and `payload`.
 */
@Entity('hub_message_delivery')
@Index('uk_hub_message_delivery_key', ['deliveryKey'], { unique: true })
@Index('idx_hub_message_delivery_status_id', ['status', 'id'])
@Index('idx_hub_message_delivery_provider_message', ['provider', 'providerMessageId'])
export class HubMessageDelivery {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  @Column({ name: 'delivery_key', type: 'varchar', length: 191 })
  deliveryKey!: string;

  @Column({ type: 'varchar', length: 24 })
  channel!: DeliveryChannel;

  /** Phone, openid or addresses: needed to send; logs only ever show it masked. */
  @Column({ type: 'varchar', length: 700 })
  recipient!: string;

  @Column({ type: 'varchar', length: 16, default: 'PENDING' })
  status!: DeliveryStatus;

  @Column({ name: 'job_name', type: 'varchar', length: 100 })
  jobName!: string;

  /** The job that owns the send: a job finding the row SENDING under its own id died mid-call. */
  @Column({ name: 'job_id', type: 'varchar', length: 200, nullable: true })
  jobId!: string | null;

  /** The job's payload, delivery key included, for the sweeper. */
  @Column({ type: 'json' })
  payload!: unknown;

  /** The business record of the send: `sms.sms_id` or `email_records.email_id`. */
  @Column({ name: 'record_id', type: 'varchar', length: 50, nullable: true })
  recordId!: string | null;

  /** The `notifies` row this delivery settles, when notify-dispatch asked for it. */
  @Column({ name: 'notify_id', type: 'varchar', length: 50, nullable: true })
  notifyId!: string | null;

  @Column({ type: 'varchar', length: 16, nullable: true })
  provider!: string | null;

  /** Aliyun BizId, Tencent SerialNo, WeChat msgid or the e-mail's Message-ID. */
  @Column({ name: 'provider_message_id', type: 'varchar', length: 200, nullable: true })
  providerMessageId!: string | null;

  @Column({ type: 'int', unsigned: true, default: 0 })
  attempts!: number;

  @Column({ name: 'error_code', type: 'varchar', length: 64, nullable: true })
  errorCode!: string | null;

  @Column({ type: 'varchar', length: 1000, nullable: true })
  error!: string | null;

  /** From the vendor's delivery receipt: DELIVERED or UNDELIVERED. */
  @Column({ name: 'receipt_status', type: 'varchar', length: 16, nullable: true })
  receiptStatus!: string | null;

  /** The carrier's code, raw (DELIVRD, UNDELIV, MBBLACK, …). */
  @Column({ name: 'receipt_code', type: 'varchar', length: 64, nullable: true })
  receiptCode!: string | null;

  @Column({ name: 'receipt_time', type: 'datetime', precision: 3, nullable: true })
  receiptTime!: Date | null;

  @Column({ name: 'sending_time', type: 'datetime', precision: 3, nullable: true })
  sendingTime!: Date | null;

  @Column({ name: 'sent_time', type: 'datetime', precision: 3, nullable: true })
  sentTime!: Date | null;

  @Column({ name: 'created_time', type: 'datetime', precision: 3 })
  createdTime!: Date;

  @Column({ name: 'updated_time', type: 'datetime', precision: 3 })
  updatedTime!: Date;
}
