import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** `resource_share_info`, which the marketing system's DDL names without columns: the working columns of docs/data.md, one row per resource. */
@Entity('resource_share_info')
@Index('uk_resource_share_info_resource', ['resourceType', 'resourceId'], { unique: true })
export class ResourceShareInfo {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'organization_id', type: 'bigint', nullable: true })
  organizationId!: string | null;

  @Column({ name: 'resource_type', type: 'varchar', length: 191 })
  resourceType!: string;

  @Column({ name: 'resource_id', type: 'varchar', length: 191 })
  resourceId!: string;

  @Column({ name: 'share_count', type: 'int', default: 0 })
  shareCount!: number;

  @Column({ name: 'reach_count', type: 'int', default: 0 })
  reachCount!: number;

  @Column({ name: 'uv_count', type: 'int', default: 0 })
  uvCount!: number;

  @Column({ name: 'max_depth', type: 'int', default: 0 })
  maxDepth!: number;

  @Column({ name: 'updated_time', type: 'datetime', nullable: true })
  updatedTime!: Date | null;
}
