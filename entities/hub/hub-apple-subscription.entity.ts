import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../transformers';

/**
 * The hub's view of one auto-renewable subscription (an original transaction id): what
 * `apple_order` has no column for (grace end, Apple's own status code) and the ordering key that
 * keeps an older notification from overwriting a newer state.
 */
@Entity('hub_apple_subscription')
export class HubAppleSubscription {
  @PrimaryColumn({ name: 'original_transaction_id', type: 'varchar', length: 64 })
  originalTransactionId!: string;

  /** The seed's subscription_status code of the latest period. */
  @Column({ type: 'int', unsigned: true })
  status!: number;

  /** Apple's status code when Apple gave one. */
  @Column({ name: 'apple_status', type: 'int', unsigned: true, nullable: true })
  appleStatus!: number | null;

  @Column({ name: 'grace_expires_date', type: 'datetime', precision: 3, nullable: true })
  graceExpiresDate!: Date | null;

  @Column({ name: 'signed_date', type: 'bigint', transformer: bigintNumber })
  signedDate!: number;

  @Column({ name: 'updated_time', type: 'datetime', precision: 3 })
  updatedTime!: Date;
}
