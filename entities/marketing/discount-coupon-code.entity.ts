import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Seed 001 `discount_coupon_code` statuses: 未发送, 未打开, 未使用, 已使用, 已过期. */
export type CouponCodeStatus = 'UNSEND' | 'UNOPEN' | 'UNUSED' | 'USED' | 'TIME_OUT';

/**
 * Seed 001 `discount_coupon_code` 优惠券码表: one coupon handed (or to be handed) to a member.
 * The `(status, effect_end_time)` index lets coupon-expire find the due range without a scan.
 */
@Entity('discount_coupon_code')
@Index('idx_discount_coupon_code_status_end', ['status', 'effectEndTime'])
export class DiscountCouponCode {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ type: 'varchar', length: 64, nullable: true, comment: '优惠券码' })
  code!: string | null;

  @Column({ name: 'discount_coupon_id', type: 'bigint', nullable: true, comment: '优惠券id' })
  discountCouponId!: string | null;

  /** fen */
  @Column({ name: 'discount_amount', type: 'bigint', nullable: true, comment: '优惠金额' })
  discountAmount!: string | null;

  @Column({ name: 'discount_coupon_send_rule_id', type: 'bigint', nullable: true, comment: '优惠券投放id' })
  discountCouponSendRuleId!: string | null;

  @Column({ name: 'member_id', type: 'bigint', nullable: true, comment: '会员id' })
  memberId!: string | null;

  @Column({ name: 'effect_end_time', type: 'datetime', nullable: true, comment: '有效期结束时间' })
  effectEndTime!: Date | null;

  @Column({ name: 'give_member_time', type: 'datetime', nullable: true, comment: '发送到会员时间' })
  giveMemberTime!: Date | null;

  @Column({ name: 'effect_start_time', type: 'datetime', nullable: true, comment: '有效期开始时间' })
  effectStartTime!: Date | null;

  @Column({ name: 'used_time', type: 'datetime', nullable: true })
  usedTime!: Date | null;

  @Column({ name: 'order_id', type: 'bigint', nullable: true, comment: '订单id' })
  orderId!: string | null;

  /** spelled so in the marketing DDL */
  @Column({ name: 'dicount_coupon_name', type: 'varchar', length: 255, nullable: true, comment: '优惠券名称' })
  dicountCouponName!: string | null;

  @Column({ name: 'order_type', type: 'varchar', length: 64, nullable: true, comment: '订单类型' })
  orderType!: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true, comment: '状态 UNSEND UNOPEN UNUSED USED TIME_OUT' })
  status!: CouponCodeStatus | null;

  @Column({ type: 'tinyint', nullable: true, default: 0, comment: '删除标记' })
  deleted!: number | null;

  @Column({ name: 'created_time', type: 'datetime', nullable: true, comment: '创建时间' })
  createdTime!: Date | null;

  @Column({ name: 'updated_time', type: 'datetime', nullable: true, comment: '更新时间' })
  updatedTime!: Date | null;
}
