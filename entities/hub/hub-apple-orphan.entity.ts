import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from '../transformers';

/** PARKED: no user known yet. APPLIED: applied to `uid` once a user appeared. */
export type AppleOrphanStatus = 'PARKED' | 'APPLIED';

/**
 * An App Store transaction the hub could not attribute to a user (no known original transaction,
 * no appAccountToken of an existing user): parked once per transaction, holding its newest state,
 * and applied when a user appears for its original transaction or token.
 */
@Entity('hub_apple_orphan')
@Index('uk_hub_apple_orphan_transaction_id', ['transactionId'], { unique: true })
@Index('idx_hub_apple_orphan_otid', ['originalTransactionId'])
@Index('idx_hub_apple_orphan_token', ['appAccountToken'])
@Index('idx_hub_apple_orphan_status_id', ['status', 'id'])
export class HubAppleOrphan {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  @Column({ name: 'transaction_id', type: 'varchar', length: 64 })
  transactionId!: string;

  @Column({ name: 'original_transaction_id', type: 'varchar', length: 64 })
  originalTransactionId!: string;

  @Column({ name: 'app_account_token', type: 'varchar', length: 64, nullable: true })
  appAccountToken!: string | null;

  @Column({ type: 'varchar', length: 16 })
  environment!: string;

  /** The parked state's ordering key (epoch ms): a newer state of the transaction replaces it. */
  @Column({ name: 'signed_date', type: 'bigint', transformer: bigintNumber })
  signedDate!: number;

  /** The verified, decoded state as `applyAppleTransactionState` takes it. */
  @Column({ type: 'json' })
  state!: unknown;

  @Column({ type: 'varchar', length: 16, default: 'PARKED' })
  status!: AppleOrphanStatus;

  @Column({ type: 'int', unsigned: true, nullable: true })
  uid!: number | null;

  @Column({ name: 'applied_time', type: 'datetime', precision: 3, nullable: true })
  appliedTime!: Date | null;

  @Column({ name: 'created_time', type: 'datetime', precision: 3 })
  createdTime!: Date;

  @Column({ name: 'updated_time', type: 'datetime', precision: 3 })
  updatedTime!: Date;
}
