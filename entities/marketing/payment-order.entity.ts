import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Seed 001's payment statuses (支付状态说明). */
export type PayStatus = 'NONE' | 'UNPAID' | 'PAY_PROCESSING' | 'PAY_SUCCESS' | 'PAY_FAILED' | 'REFUNDING' | 'REFUNDED' | 'REFUND_FAILED';
export type PaymentBusinessType = 'EVENT' | 'GROUP_BUY' | 'MALL' | 'APP';

/**
 * `payment_order` (the marketing DDL names it; working columns in docs/data.md): one WeChat payment of the
 * marketing platform. `out_trade_no` is the key WeChat knows it by; `payer_total` is what the payer
 * paid after coupons, as WeChat reports it.
 */
@Entity('payment_order')
@Index('uk_payment_order_out_trade_no', ['outTradeNo'], { unique: true })
@Index('idx_payment_order_status_created', ['payStatus', 'createdTime'])
@Index('idx_payment_order_status_expire', ['payStatus', 'timeExpire'])
@Index('idx_payment_order_success_time', ['successTime'])
export class PaymentOrder {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'organization_id', type: 'bigint', nullable: true })
  organizationId!: string | null;

  @Column({ name: 'member_id', type: 'bigint', nullable: true })
  memberId!: string | null;

  @Column({ name: 'business_type', type: 'varchar', length: 16 })
  businessType!: PaymentBusinessType;

  @Column({ name: 'business_order_id', type: 'bigint', nullable: true })
  businessOrderId!: string | null;

  @Column({ type: 'varchar', length: 32 })
  mchid!: string;

  @Column({ type: 'varchar', length: 32, nullable: true })
  appid!: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true })
  openid!: string | null;

  @Column({ name: 'out_trade_no', type: 'varchar', length: 64 })
  outTradeNo!: string;

  @Column({ name: 'transaction_id', type: 'varchar', length: 64, nullable: true })
  transactionId!: string | null;

  @Column({ type: 'varchar', length: 127, nullable: true })
  description!: string | null;

  /** fen */
  @Column({ type: 'int' })
  amount!: number;

  /** fen, as WeChat reports it once paid */
  @Column({ name: 'payer_total', type: 'int', nullable: true })
  payerTotal!: number | null;

  @Column({ name: 'pay_status', type: 'varchar', length: 32 })
  payStatus!: PayStatus;

  /** WeChat's raw trade_state */
  @Column({ name: 'trade_state', type: 'varchar', length: 32, nullable: true })
  tradeState!: string | null;

  @Column({ name: 'success_time', type: 'datetime', nullable: true })
  successTime!: Date | null;

  @Column({ name: 'time_expire', type: 'datetime', nullable: true })
  timeExpire!: Date | null;

  /** fen */
  @Column({ name: 'refunded_amount', type: 'int', default: 0 })
  refundedAmount!: number;

  @Column({ name: 'created_time', type: 'datetime' })
  createdTime!: Date;

  @Column({ name: 'updated_time', type: 'datetime' })
  updatedTime!: Date;

  @Column({ type: 'tinyint', default: 0 })
  deleted!: number;
}
