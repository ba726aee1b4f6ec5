import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Seed 001 拼课团状态: 未开启, 开启, 已结束. */
export type GroupBuyEventStatus = 'NOTOPEN' | 'OPEN' | 'CLOSED';

/**
 * Seed 001 `group_buy_event` 拼课团表. `remind_hours` with `remind_time_type` (BEGIN: hours after
 * `begin_time`; END: hours before `end_time`) drive group-buy-remind; past `end_time` the event is CLOSED.
 */
@Entity('group_buy_event')
@Index('idx_group_buy_event_status_end', ['status', 'endTime'])
export class GroupBuyEvent {
  @PrimaryGeneratedColumn({ type: 'bigint', comment: '主键' })
  id!: string;

  @Column({ name: 'event_category_second_id', type: 'varchar', length: 64, nullable: true, comment: '名称' })
  eventCategorySecondId!: string | null;

  @Column({ name: 'event_category_first_id', type: 'int', nullable: true, comment: '价格' })
  eventCategoryFirstId!: number | null;

  @Column({ name: 'resource_id', type: 'varchar', length: 255, nullable: true, comment: '资源id' })
  resourceId!: string | null;

  @Column({ type: 'varchar', length: 512, nullable: true, comment: '简介' })
  descr!: string | null;

  /** spelled so in the marketing DDL */
  @Column({ type: 'varchar', length: 255, nullable: true })
  titile!: string | null;

  @Column({ name: 'organization_id', type: 'bigint', nullable: true })
  organizationId!: string | null;

  @Column({ name: 'begin_time', type: 'datetime', nullable: true, comment: '开始时间' })
  beginTime!: Date | null;

  @Column({ name: 'team_last_time_hours', type: 'int', nullable: true, comment: '拼团最长小时数 LIMITED 时有效' })
  teamLastTimeHours!: number | null;

  @Column({ name: 'remind_hours', type: 'int', nullable: true, comment: '提醒的小时数 开始后多少小时 或者结束前多少小时' })
  remindHours!: number | null;

  @Column({ name: 'remind_time_type', type: 'varchar', length: 32, nullable: true, comment: '提醒时间的类型 BEGIN 开始 END 结束' })
  remindTimeType!: 'BEGIN' | 'END' | null;

  @Column({ name: 'team_last_time_type', type: 'varchar', length: 32, nullable: true, comment: '团队拼团时长 LIMITLESS 一直 LIMITED 有限的' })
  teamLastTimeType!: 'LIMITLESS' | 'LIMITED' | null;

  @Column({ name: 'form_id', type: 'bigint', nullable: true, comment: '表单模板id' })
  formId!: string | null;

  @Column({ name: 'end_time', type: 'datetime', nullable: true, comment: '结束时间' })
  endTime!: Date | null;

  @Column({ name: 'repeat_join', type: 'tinyint', nullable: true })
  repeatJoin!: number | null;

  @Column({ name: 'effective_type', type: 'varchar', length: 32, nullable: true, comment: '优惠券有效期类型' })
  effectiveType!: string | null;

  @Column({ name: 'effective_end_time', type: 'datetime', nullable: true, comment: '结束时间' })
  effectiveEndTime!: Date | null;

  @Column({ type: 'varchar', length: 32, nullable: true })
  status!: GroupBuyEventStatus | null;

  @Column({ name: 'effective_begin_time', type: 'datetime', nullable: true, comment: '开始时间' })
  effectiveBeginTime!: Date | null;

  @Column({ name: 'student_can_join', type: 'tinyint', nullable: true, comment: '在读学生 是否可以参加' })
  studentCanJoin!: number | null;

  @Column({ name: 'effective_hours', type: 'int', nullable: true, comment: '有效期天数' })
  effectiveHours!: number | null;

  @Column({ type: 'varchar', length: 512, nullable: true, comment: '头图' })
  banner!: string | null;

  @Column({ name: 'cover_image', type: 'varchar', length: 512, nullable: true, comment: '封面图' })
  coverImage!: string | null;

  @Column({ name: 'cancel_review_toggle', type: 'tinyint', nullable: true, comment: '取消审核开关' })
  cancelReviewToggle!: number | null;

  @Column({ type: 'varchar', length: 2048, nullable: true, comment: '详情' })
  detail!: string | null;

  @Column({ type: 'tinyint', nullable: true, comment: '是否开启' })
  enable!: number | null;

  @Column({ name: 'guide_image', type: 'bigint', nullable: true, comment: '引导图片' })
  guideImage!: string | null;

  @Column({ name: 'order_no', type: 'int', nullable: true, comment: '序列化' })
  orderNo!: number | null;

  @Column({ type: 'tinyint', nullable: true, comment: '置顶' })
  recommend!: number | null;

  /** fen */
  @Column({ type: 'int', nullable: true, comment: '价格' })
  price!: number | null;

  @Column({ name: 'checkin_qrcode_toggle', type: 'tinyint', nullable: true, comment: '核销码开关' })
  checkinQrcodeToggle!: number | null;

  @Column({ name: 'created_time', type: 'datetime', nullable: true, comment: '创建时间' })
  createdTime!: Date | null;

  @Column({ name: 'updated_time', type: 'datetime', nullable: true, comment: '更新时间' })
  updatedTime!: Date | null;

  @Column({ type: 'tinyint', nullable: true, default: 0, comment: '删除标记' })
  deleted!: number | null;
}
