import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A visitor's first REACH of a resource through one sharer: what the sharer's downline counters count. */
@Entity('hub_share_first_referral')
@Index('idx_hub_share_first_referral_first_id', ['firstId', 'browseTime'])
@Index('idx_hub_share_first_referral_sharer', ['sharerId', 'resourceId'])
export class HubShareFirstReferral {
  @PrimaryColumn({ name: 'resource_type', type: 'varchar', length: 255 })
  resourceType!: string;

  @PrimaryColumn({ name: 'resource_id', type: 'varchar', length: 255 })
  resourceId!: string;

  @PrimaryColumn({ name: 'visitor_id', type: 'bigint' })
  visitorId!: string;

  /** The last id of the row's `from_member_ids`. */
  @PrimaryColumn({ name: 'sharer_id', type: 'bigint' })
  sharerId!: string;

  /** The share_tracking row of that first REACH. */
  @Column({ name: 'first_id', type: 'bigint' })
  firstId!: string;

  /** That row's `browse_time` (its `created_time` when NULL): a visitor created after it minus 10 minutes is new. */
  @Column({ name: 'browse_time', type: 'datetime', nullable: true })
  browseTime!: Date | null;
}
