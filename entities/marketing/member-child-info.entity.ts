import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Seed 001 `member_child_info` 推荐人和下线的关系表: referrer `member_id` brought `child_member_id`
 * to `resource_id`. The counters describe the child's own activity on that resource.
 */
@Entity('member_child_info')
@Index('idx_member_child_info_child_resource', ['childMemberId', 'resourceId'])
export class MemberChildInfo {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'child_member_id', type: 'bigint', nullable: true, comment: '下线ID' })
  childMemberId!: string | null;

  @Column({ name: 'member_id', type: 'bigint', nullable: true, comment: '推荐人ID' })
  memberId!: string | null;

  @Column({ name: 'resource_id', type: 'varchar', length: 255, nullable: true, comment: '资源ID' })
  resourceId!: string | null;

  @Column({ name: 'root_member_id', type: 'bigint', nullable: true, comment: '根推荐人ID' })
  rootMemberId!: string | null;

  @Column({ name: 'from_member_ids', type: 'varchar', length: 1000, nullable: true, comment: '推荐人链路 在前面添加 A->B,A->C,B,A' })
  fromMemberIds!: string | null;

  @Column({ name: 'child_member_share_count', type: 'int', nullable: true, comment: '下线分享次数' })
  childMemberShareCount!: number | null;

  @Column({ name: 'child_member_open_count', type: 'int', nullable: true, comment: '下线打开次数' })
  childMemberOpenCount!: number | null;

  @Column({ name: 'child_member_count', type: 'int', nullable: true, comment: '带来下线数' })
  childMemberCount!: number | null;

  @Column({ name: 'child_member_save_info_count', type: 'int', nullable: true, comment: '留资人数' })
  childMemberSaveInfoCount!: number | null;

  @Column({ name: 'created_time', type: 'datetime', nullable: true, comment: '创建时间' })
  createdTime!: Date | null;

  @Column({ name: 'updated_time', type: 'datetime', nullable: true, comment: '更新时间' })
  updatedTime!: Date | null;
}
