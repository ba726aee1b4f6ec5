import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * A small integer for each (resource_type, resource_id) share-aggregate has seen: the first-time
 * facts key on it rather than on the two texts, so their keys stay narrow and more of them fit in
 * the buffer pool. Keys are never reused or removed (a rebuild keeps them).
 */
@Entity('hub_share_resource')
@Index('uk_hub_share_resource', ['resourceId', 'resourceType'], { unique: true })
export class HubShareResource {
  @PrimaryGeneratedColumn({ name: 'resource_key', type: 'int', unsigned: true })
  resourceKey!: number;

  @Column({ name: 'resource_type', type: 'varchar', length: 255 })
  resourceType!: string;

  @Column({ name: 'resource_id', type: 'varchar', length: 255 })
  resourceId!: string;
}
