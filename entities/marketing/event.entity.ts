import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Seed 001 `event` 活动表 (documented under the last "event_order" heading). `sms_template_id` names
 * the message event-remind-sessions sends before a session: a `hub_sms_template` key.
 */
@Entity('event')
export class MarketingEvent {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'guide_image', type: 'bigint', nullable: true, comment: '引导图片' })
  guideImage!: string | null;

  @Column({ name: 'event_category_second_id', type: 'bigint', nullable: true })
  eventCategorySecondId!: string | null;

  @Column({ name: 'event_category_first_id', type: 'bigint', nullable: true })
  eventCategoryFirstId!: string | null;

  @Column({ name: 'organization_id', type: 'bigint', nullable: true, comment: '归属组织' })
  organizationId!: string | null;

  @Column({ name: 'resource_id', type: 'varchar', length: 255, nullable: true, comment: '资源id' })
  resourceId!: string | null;

  @Column({ name: 'end_time', type: 'datetime', nullable: true, comment: '结束时间' })
  endTime!: Date | null;

  @Column({ name: 'begin_time', type: 'datetime', nullable: true, comment: '开始时间' })
  beginTime!: Date | null;

  @Column({ name: 'order_no', type: 'int', nullable: true })
  orderNo!: number | null;

  @Column({ type: 'varchar', length: 255, nullable: true, comment: '活动名称' })
  name!: string | null;

  @Column({ type: 'varchar', length: 512, nullable: true, comment: '活动简介' })
  brief!: string | null;

  @Column({ type: 'tinyint', nullable: true, comment: '置顶' })
  recommend!: number | null;

  @Column({ type: 'varchar', length: 512, nullable: true, comment: '头图' })
  banner!: string | null;

  @Column({ name: 'sms_template_id', type: 'varchar', length: 64, nullable: true, comment: '模板消息id' })
  smsTemplateId!: string | null;

  @Column({ name: 'coupon_batch', type: 'varchar', length: 64, nullable: true, comment: '优惠券批次' })
  couponBatch!: string | null;

  @Column({ name: 'cover_image', type: 'varchar', length: 512, nullable: true, comment: '封面图' })
  coverImage!: string | null;

  @Column({ type: 'mediumtext', nullable: true, comment: '活动详情' })
  detail!: string | null;

  @Column({ type: 'tinyint', nullable: true, comment: '是否发布' })
  published!: number | null;

  @Column({ name: 'form_id', type: 'bigint', nullable: true, comment: '表单id' })
  formId!: string | null;

  @Column({ name: 'charged_amount', type: 'int', nullable: true })
  chargedAmount!: number | null;

  @Column({ name: 'reservation_review_toggle', type: 'tinyint', nullable: true, comment: '预约审核开关' })
  reservationReviewToggle!: number | null;

  @Column({ name: 'cancel_review_toggle', type: 'tinyint', nullable: true, comment: '取消审核开关' })
  cancelReviewToggle!: number | null;

  @Column({ name: 'charge_toggle', type: 'tinyint', nullable: true, comment: '收费开关' })
  chargeToggle!: number | null;

  @Column({ name: 'checkin_qrcode_toggle', type: 'tinyint', nullable: true, comment: '核销码开关' })
  checkinQrcodeToggle!: number | null;

  @Column({ name: 'created_time', type: 'datetime', nullable: true, comment: '创建时间' })
  createdTime!: Date | null;

  @Column({ name: 'updated_time', type: 'datetime', nullable: true, comment: '更新时间' })
  updatedTime!: Date | null;

  @Column({ type: 'tinyint', nullable: true, default: 0, comment: '删除标记' })
  deleted!: number | null;
}
