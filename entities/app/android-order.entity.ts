import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** 订单状态: 1 待支付, 2 已支付, 3 已退款, 4 支付失败. */
export const AndroidOrderStatus = { UNPAID: 1, PAID: 2, REFUNDED: 3, FAILED: 4 } as const;

/**
 * Seed 003 Android order (`android_order` in the app database). `oid` is the app's out_trade_no
 * at WeChat; `tid` the platform's transaction id.
 */
@Entity('android_order')
@Index('idx_android_order_status_created', ['status', 'createdAt'])
@Index('idx_android_order_pay_time', ['payTime'])
export class AndroidOrder {
  @PrimaryColumn({ type: 'varchar', length: 64, comment: '订单唯一ID' })
  oid!: string;

  @Column({ type: 'int', unsigned: true, comment: '用户ID' })
  uid!: number;

  @Column({ name: 'product_id', type: 'int', unsigned: true, comment: '产品ID' })
  productId!: number;

  @Column({ name: 'product_price', type: 'int', unsigned: true, comment: '产品价格（单位：分）' })
  productPrice!: number;

  @Column({ name: 'discount_amount', type: 'int', unsigned: true, default: 0, comment: '优惠金额（单位：分），默认0' })
  discountAmount!: number;

  @Column({ name: 'order_amount', type: 'int', unsigned: true, comment: '订单金额（单位：分）' })
  orderAmount!: number;

  @Column({ name: 'payment_amount', type: 'int', unsigned: true, default: 0, comment: '实际支付金额（单位：分）' })
  paymentAmount!: number;

  @Column({ name: 'platform_order_amount', type: 'int', unsigned: true, default: 0, comment: '支付平台订单金额（单位：分）' })
  platformOrderAmount!: number;

  @Column({ type: 'int', unsigned: true, default: 1, comment: '订单状态（1=待支付，2=已支付，3=已退款，4=支付失败），默认1' })
  status!: number;

  @Column({ name: 'pay_channel', type: 'int', unsigned: true, default: 1, comment: '支付渠道（1=微信，2=支付宝，3=苹果），默认1' })
  payChannel!: number;

  @Column({ type: 'varchar', length: 64, nullable: true, comment: '第三方支付平台订单号' })
  tid!: string | null;

  @Column({ name: 'trade_type', type: 'varchar', length: 32, nullable: true, comment: '交易类型' })
  tradeType!: string | null;

  @Column({ name: 'bank_type', type: 'varchar', length: 32, nullable: true, comment: '银行类型' })
  bankType!: string | null;

  @Column({ name: 'open_id', type: 'varchar', length: 128, nullable: true, comment: '第三方支付用户标识' })
  openId!: string | null;

  @Column({ type: 'varchar', length: 64, default: 'official', comment: '来源渠道，默认official' })
  channel!: string;

  @Column({ name: 'pay_time', type: 'datetime', nullable: true, comment: '支付时间' })
  payTime!: Date | null;

  @Column({ name: 'updated_at', type: 'datetime', nullable: true, comment: '更新时间' })
  updatedAt!: Date | null;

  @Column({ name: 'created_at', type: 'datetime', nullable: true, comment: '创建时间' })
  createdAt!: Date | null;
}
