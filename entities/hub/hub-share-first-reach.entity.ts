import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A visitor's first REACH of a resource: the key makes `uv_count` count each visitor once. */
@Entity('hub_share_first_reach')
export class HubShareFirstReach {
  @PrimaryColumn({ name: 'resource_type', type: 'varchar', length: 255 })
  resourceType!: string;

  @PrimaryColumn({ name: 'resource_id', type: 'varchar', length: 255 })
  resourceId!: string;

  @PrimaryColumn({ name: 'visitor_id', type: 'bigint' })
  visitorId!: string;

  /** The share_tracking row of that first REACH. */
  @Column({ name: 'first_id', type: 'bigint' })
  firstId!: string;
}
