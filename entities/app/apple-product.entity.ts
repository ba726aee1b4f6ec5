import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** 产品类型: 1 会员时长 (function_value = days), 2 永久会员, 99 自定义. */
export const AppleProductType = { VIP_DAYS: 1, FOREVER_VIP: 2, CUSTOM: 99 } as const;

/**
 * Seed 003 Apple product (`apple_product` in the app database): what an App Store product id grants
 * and what it sells for in fen. `desc` and `order` are reserved words: hand-written SQL quotes them.
 */
@Entity('apple_product')
@Index('idx_apple_product_iap_product_id', ['iapProductId'])
export class AppleProduct {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true, comment: '产品唯一ID' })
  pid!: string;

  @Column({ name: 'iap_product_id', type: 'varchar', length: 128, comment: '苹果产品ID' })
  iapProductId!: string;

  @Column({ type: 'varchar', length: 32, comment: '产品名称' })
  name!: string;

  @Column({ name: 'sub_name', type: 'varchar', length: 64, nullable: true, comment: '子标题' })
  subName!: string | null;

  @Column({ name: 'is_subscription', type: 'tinyint', unsigned: true, default: 0, comment: '是否为订阅（0=否，1=是），默认0' })
  isSubscription!: number;

  @Column({ name: 'subscription_duration', type: 'tinyint', unsigned: true, nullable: true, comment: '苹果订阅时长周期类型（1=周，2=月，3=双月，4=季度，5=半年，6=年）' })
  subscriptionDuration!: number | null;

  @Column({ type: 'tinyint', unsigned: true, default: 1, comment: '产品类型（1=会员时长，2=永久会员，99=自定义），默认1' })
  type!: number;

  @Column({ name: 'function_value', type: 'varchar', length: 64, nullable: true, comment: '产品功能值，用于购买后逻辑处理' })
  functionValue!: string | null;

  @Column({ name: 'cross_price', type: 'int', unsigned: true, default: 0, comment: '划线价，单位分' })
  crossPrice!: number;

  @Column({ name: 'sale_price', type: 'int', unsigned: true, default: 0, comment: '售价，单位分' })
  salePrice!: number;

  @Column({ type: 'varchar', length: 512, nullable: true, comment: '商品描述' })
  desc!: string | null;

  @Column({ name: 'sale_status', type: 'tinyint', unsigned: true, default: 1, comment: '销售状态（1=在售，2=待售），默认1' })
  saleStatus!: number;

  @Column({ type: 'int', unsigned: true, default: 1, comment: '排序，值越小越靠前，默认1' })
  order!: number;

  @Column({ name: 'ext_data', type: 'varchar', length: 512, nullable: true, comment: '用户自定义扩展字段，JSON格式' })
  extData!: string | null;

  @Column({ name: 'updated_at', type: 'timestamp', nullable: true, comment: '更新时间' })
  updatedAt!: Date | null;

  @Column({ name: 'created_at', type: 'timestamp', nullable: true, comment: '创建时间' })
  createdAt!: Date | null;
}
