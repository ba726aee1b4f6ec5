import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A named watermark (sync cursors, aggregation positions), moved in the same transaction as the effect. */
@Entity('hub_cursor')
export class HubCursor {
  @PrimaryColumn({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ type: 'varchar', length: 255 })
  position!: string;

  @Column({ name: 'updated_time', type: 'datetime', precision: 3 })
  updatedTime!: Date;
}
