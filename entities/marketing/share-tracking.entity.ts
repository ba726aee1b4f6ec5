import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type ShareTrackingType = 'SHARE' | 'REACH';

/**
 * Seed 001 `share_tracking`: one share or one visit (reach) of a resource, written by the marketing
 * platform. `member_id` is who acted; `from_member_ids` is the chain of sharers the visitor came
 * through, the last id the direct sharer. share-aggregate folds new rows into the counters.
 */
@Entity('share_tracking')
export class ShareTracking {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'organization_id', type: 'bigint', nullable: true, comment: '组织id' })
  organizationId!: string | null;

  @Column({ name: 'member_id', type: 'bigint', nullable: true, comment: '会员ID' })
  memberId!: string | null;

  @Column({ name: 'resource_type', type: 'varchar', length: 255, nullable: true, comment: '资源类型' })
  resourceType!: string | null;

  @Column({ name: 'resource_id', type: 'varchar', length: 255, nullable: true, comment: '资源id' })
  resourceId!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true, comment: '传播类型：SHARE分享、触达REACH' })
  type!: ShareTrackingType | null;

  @Column({ name: 'store_org_id', type: 'bigint', nullable: true, comment: '门店组织ID' })
  storeOrgId!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true, comment: '渠道' })
  channel!: string | null;

  @Column({ name: 'from_member_ids', type: 'varchar', length: 255, nullable: true, comment: '分享的会员ID集合' })
  fromMemberIds!: string | null;

  @Column({ type: 'int', nullable: true, comment: '深度' })
  depth!: number | null;

  @Column({ name: 'browse_time', type: 'datetime', nullable: true, comment: '首次浏览时间' })
  browseTime!: Date | null;

  @Column({ name: 'from_ids', type: 'varchar', length: 5000, nullable: true, comment: '父节点集合' })
  fromIds!: string | null;

  @Column({ name: 'from_id', type: 'bigint', nullable: true, comment: '上一个资源链接' })
  fromId!: string | null;

  @Column({ name: 'root_id', type: 'bigint', nullable: true, comment: '这个链路开始id' })
  rootId!: string | null;

  @Column({ name: 'qrcode_url', type: 'varchar', length: 255, nullable: true, comment: '拼接的图片的url' })
  qrcodeUrl!: string | null;

  @Column({ name: 'created_time', type: 'datetime', nullable: true, comment: '创建时间' })
  createdTime!: Date | null;

  @Column({ name: 'updated_time', type: 'datetime', nullable: true, comment: '更新时间' })
  updatedTime!: Date | null;
}
