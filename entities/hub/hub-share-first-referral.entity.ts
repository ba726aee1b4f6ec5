import { Entity, PrimaryColumn } from 'typeorm';

/**
 * A visitor's first REACH of a resource through one sharer: what the sharer's downline counters
 * count. The key leads with the sharer, so recounting one sharer's downlines reads one key range.
 */
@Entity('hub_share_first_referral')
export class HubShareFirstReferral {
  /** The last id of the row's `from_member_ids`. */
  @PrimaryColumn({ name: 'sharer_id', type: 'bigint' })
  sharerId!: string;

  /** hub_share_resource.resource_key */
  @PrimaryColumn({ name: 'resource_key', type: 'int', unsigned: true })
  resourceKey!: number;

  @PrimaryColumn({ name: 'visitor_id', type: 'bigint' })
  visitorId!: string;
}
