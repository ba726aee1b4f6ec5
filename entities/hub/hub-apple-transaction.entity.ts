import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumber } from '../transformers';

/** The newest state applied to one `apple_order` row, by Apple's signedDate: older ones change nothing. */
@Entity('hub_apple_transaction')
export class HubAppleTransaction {
  @PrimaryColumn({ name: 'transaction_id', type: 'varchar', length: 64 })
  transactionId!: string;

  @Column({ name: 'signed_date', type: 'bigint', transformer: bigintNumber })
  signedDate!: number;

  @Column({ name: 'updated_time', type: 'datetime', precision: 3 })
  updatedTime!: Date;
}
