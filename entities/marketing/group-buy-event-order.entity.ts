import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { BusinessOrderStatus } from './event-order.entity';
import type { PayStatus } from './payment-order.entity';

/** Seed 001 `group_buy_event_order` 拼课团订单: a member's (or a robot's) place in a group-buy team. */
@Entity('group_buy_event_order')
@Index('idx_group_buy_event_order_payment_order', ['paymentOrderId'])
@Index('idx_group_buy_event_order_team', ['groupBuyEventTeamId'])
@Index('idx_group_buy_event_order_event', ['groupBuyEventId'])
@Index('uk_group_buy_event_order_code', ['code'], { unique: true })
export class GroupBuyEventOrder {
  @PrimaryGeneratedColumn({ type: 'bigint', comment: '主键' })
  id!: string;

  @Column({ name: 'group_buy_event_id', type: 'bigint', nullable: true, comment: '团购活动id' })
  groupBuyEventId!: string | null;

  @Column({ name: 'group_buy_event_name', type: 'varchar', length: 255, nullable: true, comment: '拼客团名称' })
  groupBuyEventName!: string | null;

  @Column({ name: 'group_buy_event_team_id', type: 'bigint', nullable: true, comment: '团id' })
  groupBuyEventTeamId!: string | null;

  @Column({ name: 'member_id', type: 'bigint', nullable: true, comment: '会员id' })
  memberId!: string | null;

  @Column({ type: 'int', nullable: true, comment: '团队数量' })
  size!: number | null;

  @Column({ name: 'member_head_url', type: 'varchar', length: 512, nullable: true, comment: '会员头像地址' })
  memberHeadUrl!: string | null;

  @Column({ name: 'time_expire', type: 'datetime', nullable: true, comment: '过期时间' })
  timeExpire!: Date | null;

  @Column({ name: 'member_name', type: 'varchar', length: 64, nullable: true, comment: '会员名称' })
  memberName!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true, comment: '来源渠道' })
  channel!: string | null;

  @Column({ name: 'form_data_ids', type: 'varchar', length: 255, nullable: true, comment: '表单数据id集合' })
  formDataIds!: string | null;

  @Column({ name: 'checkin_store_org_id', type: 'bigint', nullable: true, comment: '核销店铺id' })
  checkinStoreOrgId!: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true, comment: '状态' })
  status!: BusinessOrderStatus | null;

  /** spelled so in the marketing DDL */
  @Column({ name: 'pament_status', type: 'varchar', length: 32, nullable: true, comment: '支付状态' })
  pamentStatus!: PayStatus | null;

  @Column({ type: 'varchar', length: 64, nullable: true, comment: '核销码' })
  code!: string | null;

  @Column({ name: 'member_mobile', type: 'varchar', length: 20, nullable: true, comment: '会员手机号' })
  memberMobile!: string | null;

  @Column({ name: 'payment_order_id', type: 'bigint', nullable: true, comment: '支付订单id' })
  paymentOrderId!: string | null;

  @Column({ name: 'refund_order_id', type: 'bigint', nullable: true, comment: '退款订单id' })
  refundOrderId!: string | null;

  @Column({ name: 'sku_values', type: 'varchar', length: 255, nullable: true, comment: '规格值 简易' })
  skuValues!: string | null;

  @Column({ name: 'sku_values_detail', type: 'varchar', length: 1024, nullable: true, comment: '规格值详情' })
  skuValuesDetail!: string | null;

  @Column({ name: 'charged_amount', type: 'int', nullable: true, comment: '金额' })
  chargedAmount!: number | null;

  @Column({ type: 'tinyint', nullable: true, comment: '是不是机器人订单' })
  robot!: number | null;

  @Column({ name: 'team_leader', type: 'tinyint', nullable: true, comment: '是不是团长订单' })
  teamLeader!: number | null;

  @Column({ name: 'created_time', type: 'datetime', nullable: true, comment: '创建时间' })
  createdTime!: Date | null;

  @Column({ name: 'updated_time', type: 'datetime', nullable: true, comment: '更新时间' })
  updatedTime!: Date | null;
}
