import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import type { PayStatus } from './payment-order.entity';

/** Order statuses the marketing DDL leaves open, as docs/data.md gives them for event and group-buy orders. */
export type BusinessOrderStatus = 'WAITING_PAY' | 'JOINED' | 'SUCCESS' | 'FAILED' | 'CANCELLED' | 'REFUNDED';

/** Seed 001 `event_order` 活动订单: a member's sign-up to an event, paid through `payment_order_id`. */
@Entity('event_order')
@Index('idx_event_order_payment_order', ['paymentOrderId'])
// event-remind-sessions walks one session's orders at a time.
@Index('idx_event_order_session', ['sessionId'])
export class EventOrder {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'member_id', type: 'bigint', nullable: true, comment: '会员id' })
  memberId!: string | null;

  @Column({ name: 'event_id', type: 'bigint', nullable: true, comment: '活动id' })
  eventId!: string | null;

  @Column({ name: 'checkin_store_org_id', type: 'bigint', nullable: true })
  checkinStoreOrgId!: string | null;

  @Column({ name: 'event_tile', type: 'varchar', length: 255, nullable: true, comment: '活动标题' })
  eventTile!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true, comment: '活动名称' })
  name!: string | null;

  @Column({ type: 'varchar', length: 20, nullable: true, comment: '手机号码' })
  mobile!: string | null;

  @Column({ name: 'form_data_ids', type: 'varchar', length: 255, nullable: true, comment: '附加表单数据' })
  formDataIds!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true, comment: '渠道' })
  channel!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true, comment: '核销码' })
  code!: string | null;

  /** spelled so in the marketing DDL */
  @Column({ name: 'pament_status', type: 'varchar', length: 32, nullable: true })
  pamentStatus!: PayStatus | null;

  @Column({ type: 'varchar', length: 32, nullable: true, comment: '订单状态' })
  status!: BusinessOrderStatus | null;

  @Column({ name: 'payment_order_id', type: 'bigint', nullable: true, comment: '支付订单ID' })
  paymentOrderId!: string | null;

  @Column({ name: 'session_id', type: 'bigint', nullable: true })
  sessionId!: string | null;

  @Column({ name: 'session_store_id', type: 'bigint', nullable: true, comment: '选择的店铺' })
  sessionStoreId!: string | null;

  @Column({ name: 'refund_order_id', type: 'bigint', nullable: true, comment: '退款订单ID' })
  refundOrderId!: string | null;

  @Column({ name: 'session_start_time', type: 'datetime', nullable: true, comment: '场次开始时间' })
  sessionStartTime!: Date | null;

  @Column({ name: 'session_end_time', type: 'datetime', nullable: true, comment: '场次结束时间' })
  sessionEndTime!: Date | null;

  @Column({ name: 'session_address', type: 'varchar', length: 255, nullable: true, comment: '场次场地' })
  sessionAddress!: string | null;

  @Column({ name: 'charged_mount', type: 'int', nullable: true })
  chargedMount!: number | null;

  @Column({ name: 'time_expire', type: 'datetime', nullable: true, comment: '超时时间' })
  timeExpire!: Date | null;

  @Column({ name: 'created_time', type: 'datetime', nullable: true, comment: '创建时间' })
  createdTime!: Date | null;

  @Column({ name: 'updated_time', type: 'datetime', nullable: true, comment: '更新时间' })
  updatedTime!: Date | null;

  @Column({ type: 'tinyint', default: 0, comment: '删除标记' })
  deleted!: number;
}
