import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Seed 001 `member` (会员信息表). The share counters (`share_count`, `open_count`,
 * `child_member_*_count`) are the ones share-aggregate maintains; every column may be NULL in
 * the seed's DDL, so arithmetic on them must COALESCE.
 */
@Entity('member')
export class Member {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'organization_id', type: 'bigint', nullable: true, comment: '组织id' })
  organizationId!: string | null;

  @Column({ type: 'varchar', length: 45, nullable: true, comment: '姓名' })
  name!: string | null;

  @Column({ name: 'save_info_time', type: 'datetime', nullable: true, comment: '流资时间' })
  saveInfoTime!: Date | null;

  @Column({ name: 'last_login_time', type: 'datetime', nullable: true, comment: '最后登录时间' })
  lastLoginTime!: Date | null;

  @Column({ type: 'tinyint', nullable: true, comment: '是否是学生' })
  student!: number | null;

  @Column({ type: 'varchar', length: 255, nullable: true, comment: '渠道' })
  channel!: string | null;

  @Column({ type: 'varchar', length: 45, nullable: true, comment: '性别' })
  sex!: string | null;

  @Column({ type: 'varchar', length: 50, nullable: true, comment: '生日' })
  birthday!: string | null;

  @Column({ type: 'varchar', length: 45, nullable: true, comment: '手机号' })
  mobile!: string | null;

  @Column({ type: 'varchar', length: 45, nullable: true, comment: '邮箱' })
  email!: string | null;

  @Column({ type: 'int', nullable: true, default: 0, comment: '积分' })
  points!: number | null;

  @Column({ name: 'nick_name', type: 'varchar', length: 255, nullable: true, comment: '昵称' })
  nickName!: string | null;

  @Column({ name: 'sign_days', type: 'int', nullable: true, default: 0, comment: '当前签到天数' })
  signDays!: number | null;

  @Column({ name: 'sign_total_days', type: 'int', nullable: true, default: 0, comment: '总共签到天数' })
  signTotalDays!: number | null;

  @Column({ name: 'sign_max_days', type: 'int', nullable: true, default: 0, comment: '最长签到天数' })
  signMaxDays!: number | null;

  @Column({ name: 'share_count', type: 'int', nullable: true, default: 0, comment: '分享次数' })
  shareCount!: number | null;

  @Column({ name: 'child_member_save_count', type: 'int', nullable: true, default: 0, comment: '带来用户留资数' })
  childMemberSaveCount!: number | null;

  @Column({ name: 'child_member_uv_count', type: 'int', nullable: true, default: 0, comment: '带来新用户数' })
  childMemberUvCount!: number | null;

  @Column({ name: 'child_member_total_count', type: 'int', nullable: true, default: 0, comment: '带来用户数' })
  childMemberTotalCount!: number | null;

  @Column({ name: 'open_count', type: 'int', nullable: true, default: 0, comment: '打开次数' })
  openCount!: number | null;

  @Column({ type: 'int', nullable: true, default: 0, comment: '增长率' })
  growth!: number | null;

  @Column({ name: 'zy_member_info', type: 'varchar', length: 255, nullable: true, comment: '卓越会员ID' })
  zyMemberInfo!: string | null;

  @Column({ type: 'tinyint', nullable: true, comment: '员工标识0非员工 1员工' })
  worker!: number | null;

  @Column({ type: 'varchar', length: 255, nullable: true, comment: 'SELF 自身 THIRD 其他第三方' })
  source!: string | null;

  @Column({ type: 'int', nullable: true, comment: '级别' })
  level!: number | null;

  @Column({ type: 'tinyint', nullable: true, default: 0, comment: '删除标记' })
  deleted!: number | null;

  @Column({ name: 'created_time', type: 'datetime', nullable: true, comment: '创建时间' })
  createdTime!: Date | null;

  @Column({ name: 'updated_time', type: 'datetime', nullable: true, comment: '更新时间' })
  updatedTime!: Date | null;
}
