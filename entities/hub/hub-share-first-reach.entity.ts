import { Entity, PrimaryColumn } from 'typeorm';

/** A visitor's first REACH of a resource: the key makes `uv_count` count each visitor once. */
@Entity('hub_share_first_reach')
export class HubShareFirstReach {
  /** hub_share_resource.resource_key */
  @PrimaryColumn({ name: 'resource_key', type: 'int', unsigned: true })
  resourceKey!: number;

  @PrimaryColumn({ name: 'visitor_id', type: 'bigint' })
  visitorId!: string;
}
