import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One row per canary key: what a `hub-canary` job writes, once, however often it runs. */
@Entity('hub_canary')
export class HubCanary {
  @PrimaryColumn({ name: 'canary_key', type: 'varchar', length: 100 })
  canaryKey!: string;

  /** The job that wrote the row, and on which attempt. */
  @Column({ name: 'job_id', type: 'varchar', length: 200 })
  jobId!: string;

  @Column({ type: 'int', unsigned: true })
  attempt!: number;

  @Column({ name: 'created_time', type: 'datetime', precision: 3 })
  createdTime!: Date;
}
