import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** 产品类型: 0 消耗型, 1 非消耗型, 2 自动续费订阅, 3 非自动续费订阅. */
export const AppleOrderProductType = { CONSUMABLE: 0, NON_CONSUMABLE: 1, AUTO_RENEWABLE: 2, NON_RENEWING: 3 } as const;
/** 支付状态: 1 待支付, 2 已支付, 3 已退款, 4 支付失败. */
export const ApplePaymentStatus = { UNPAID: 1, PAID: 2, REFUNDED: 3, FAILED: 4 } as const;
/** 订阅状态: 1 活跃, 2 已过期, 3 已取消, 4 宽限期, 5 暂停 (the seed's codes, not Apple's). */
export const AppleSubscriptionStatusCode = { ACTIVE: 1, EXPIRED: 2, CANCELLED: 3, GRACE: 4, PAUSED: 5 } as const;
/** 数据来源: 1 Receipt 验证 (the app), 2 S2S 通知 (the hub). */
export const AppleDataSource = { RECEIPT: 1, NOTIFICATION: 2 } as const;

/**
 * Seed 003 Apple order (`apple_order` in the app database): one row per App Store transaction.
 * Rows the app wrote from receipts (`data_source` 1) keep their `oid` and `uid`; the hub finds them
 * by `transaction_id` and links renewals to them by `original_transaction_id`.
 */
@Entity('apple_order')
@Index('uk_apple_order_transaction_id', ['transactionId'], { unique: true })
@Index('idx_apple_order_original_transaction_id', ['originalTransactionId'])
@Index('idx_apple_order_uid', ['uid'])
export class AppleOrder {
  @PrimaryColumn({ type: 'varchar', length: 64, comment: '订单唯一ID' })
  oid!: string;

  @Column({ type: 'int', unsigned: true, comment: '用户ID' })
  uid!: number;

  /** apple_product.pid (a bigint there, an int here, as the seed gives them); 0 for a product we do not sell. */
  @Column({ name: 'product_id', type: 'int', unsigned: true, comment: '产品ID' })
  productId!: number;

  @Column({ name: 'apple_product_id', type: 'varchar', length: 128, comment: 'Apple产品标识符' })
  appleProductId!: string;

  @Column({ name: 'product_type', type: 'int', unsigned: true, comment: '产品类型（0=消耗型，1=非消耗型，2=自动续费订阅，3=非自动续费订阅）' })
  productType!: number;

  /** apple_product.sale_price in fen: a reference, never what Apple charged. */
  @Column({ type: 'int', unsigned: true, default: 0, comment: '订单金额（单位：分），非实际支付金额，仅作参考' })
  amount!: number;

  @Column({ name: 'payment_status', type: 'int', unsigned: true, default: 1, comment: '支付状态（1=待支付，2=已支付，3=已退款，4=支付失败），默认1' })
  paymentStatus!: number;

  @Column({ name: 'subscription_status', type: 'int', unsigned: true, nullable: true, comment: '订阅状态（1=活跃，2=已过期，3=已取消，4=宽限期，5=暂停），仅订阅产品' })
  subscriptionStatus!: number | null;

  @Column({ name: 'transaction_id', type: 'varchar', length: 64, comment: 'Apple交易ID' })
  transactionId!: string;

  @Column({ name: 'original_transaction_id', type: 'varchar', length: 64, comment: '原始交易ID' })
  originalTransactionId!: string;

  @Column({ name: 'purchase_date', type: 'datetime', nullable: true, comment: '购买时间' })
  purchaseDate!: Date | null;

  @Column({ name: 'original_purchase_date', type: 'datetime', nullable: true, comment: '原始购买时间' })
  originalPurchaseDate!: Date | null;

  @Column({ name: 'expires_date', type: 'datetime', nullable: true, comment: '过期时间（仅订阅产品）' })
  expiresDate!: Date | null;

  @Column({ name: 'cancellation_date', type: 'datetime', nullable: true, comment: '取消时间' })
  cancellationDate!: Date | null;

  @Column({ name: 'is_trial_period', type: 'int', unsigned: true, default: 0, comment: '是否试用期（0=否，1=是）' })
  isTrialPeriod!: number;

  @Column({ name: 'is_in_intro_offer_period', type: 'int', unsigned: true, default: 0, comment: '是否介绍性优惠期（0=否，1=是）' })
  isInIntroOfferPeriod!: number;

  @Column({ name: 'auto_renew_status', type: 'int', unsigned: true, nullable: true, comment: '自动续费状态（0=关闭，1=开启）' })
  autoRenewStatus!: number | null;

  @Column({ name: 'auto_renew_product_id', type: 'varchar', length: 128, nullable: true, comment: '自动续费产品ID' })
  autoRenewProductId!: string | null;

  @Column({ type: 'varchar', length: 16, nullable: true, comment: '环境类型（Sandbox=沙盒，Production=生产）' })
  environment!: string | null;

  @Column({ name: 'data_source', type: 'int', unsigned: true, comment: '数据来源（1=Receipt验证，2=S2S通知）' })
  dataSource!: number;

  @Column({ name: 'updated_at', type: 'datetime', nullable: true, comment: '更新时间' })
  updatedAt!: Date | null;

  @Column({ name: 'created_at', type: 'datetime', nullable: true, comment: '创建时间' })
  createdAt!: Date | null;
}
