import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * PENDING: waits for the relay. ENQUEUED: its job is in Redis (or lost there: the outbox sweeper adds it
 * again). DONE: the job completed, so a job missing from Redis is retention, not loss. FAILED: never
 * enqueued (unknown job, invalid payload) or failed for good; `last_error` says why.
 */
export type OutboxStatus = 'PENDING' | 'ENQUEUED' | 'DONE' | 'FAILED';

/**
 * Other systems insert a row here in their own transaction; the relay (worker process) enqueues it
 * with job id `outbox-<id>`. Only `job_name` and `payload` are required on insert.
 */
@Entity('hub_outbox')
@Index('idx_hub_outbox_status_run_at', ['status', 'runAt', 'id'])
@Index('idx_hub_outbox_status_id', ['status', 'id'])
export class HubOutbox {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  @Column({ name: 'job_name', type: 'varchar', length: 100 })
  jobName!: string;

  @Column({ type: 'json' })
  payload!: unknown;

  /** Not before this time; NULL means at once. */
  @Column({ name: 'run_at', type: 'datetime', precision: 3, nullable: true })
  runAt!: Date | null;

  @Column({ type: 'varchar', length: 16, default: 'PENDING' })
  status!: OutboxStatus;

  @Column({ name: 'job_id', type: 'varchar', length: 200, nullable: true })
  jobId!: string | null;

  @Column({ type: 'int', unsigned: true, default: 0 })
  attempts!: number;

  @Column({ name: 'last_error', type: 'varchar', length: 1000, nullable: true })
  lastError!: string | null;

  @Column({ name: 'created_time', type: 'datetime', precision: 3 })
  createdTime!: Date;

  @Column({ name: 'updated_time', type: 'datetime', precision: 3 })
  updatedTime!: Date;
}
