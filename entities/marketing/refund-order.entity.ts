import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { PaymentBusinessType } from './payment-order.entity';

export type RefundOrderStatus = 'REFUNDING' | 'REFUNDED' | 'REFUND_FAILED';
export type RefundWechatStatus = 'SUCCESS' | 'CLOSED' | 'PROCESSING' | 'ABNORMAL';

/**
 * `refund_order` (the marketing DDL names it; working columns in docs/data.md): one refund of a payment,
 * keyed at WeChat by `out_refund_no`, which exists before the first call and never changes.
 */
@Entity('refund_order')
@Index('uk_refund_order_out_refund_no', ['outRefundNo'], { unique: true })
@Index('idx_refund_order_payment', ['paymentOrderId'])
@Index('idx_refund_order_out_trade_no', ['outTradeNo'])
@Index('idx_refund_order_success_time', ['successTime'])
@Index('idx_refund_order_status', ['status', 'updatedTime'])
export class RefundOrder {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'payment_order_id', type: 'bigint', nullable: true })
  paymentOrderId!: string | null;

  @Column({ name: 'organization_id', type: 'bigint', nullable: true })
  organizationId!: string | null;

  @Column({ name: 'member_id', type: 'bigint', nullable: true })
  memberId!: string | null;

  @Column({ name: 'business_type', type: 'varchar', length: 16 })
  businessType!: PaymentBusinessType;

  @Column({ name: 'business_order_id', type: 'varchar', length: 64, nullable: true })
  businessOrderId!: string | null;

  @Column({ name: 'out_trade_no', type: 'varchar', length: 64 })
  outTradeNo!: string;

  @Column({ name: 'transaction_id', type: 'varchar', length: 64, nullable: true })
  transactionId!: string | null;

  @Column({ name: 'out_refund_no', type: 'varchar', length: 64 })
  outRefundNo!: string;

  @Column({ name: 'refund_id', type: 'varchar', length: 64, nullable: true })
  refundId!: string | null;

  /** fen refunded by this refund */
  @Column({ type: 'int' })
  amount!: number;

  /** fen of the payment it refunds */
  @Column({ type: 'int' })
  total!: number;

  @Column({ type: 'varchar', length: 80, nullable: true })
  reason!: string | null;

  @Column({ type: 'varchar', length: 16 })
  status!: RefundOrderStatus;

  @Column({ name: 'wechat_status', type: 'varchar', length: 16, nullable: true })
  wechatStatus!: RefundWechatStatus | null;

  @Column({ name: 'user_received_account', type: 'varchar', length: 128, nullable: true })
  userReceivedAccount!: string | null;

  @Column({ name: 'success_time', type: 'datetime', nullable: true })
  successTime!: Date | null;

  @Column({ name: 'fail_reason', type: 'varchar', length: 255, nullable: true })
  failReason!: string | null;

  @Column({ name: 'created_time', type: 'datetime' })
  createdTime!: Date;

  @Column({ name: 'updated_time', type: 'datetime' })
  updatedTime!: Date;

  @Column({ type: 'tinyint', default: 0 })
  deleted!: number;
}
