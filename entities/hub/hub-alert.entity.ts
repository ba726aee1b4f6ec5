import { Column, Entity, Index, PrimaryGeneratedColumn, type DataSource } from 'typeorm';
import { hashedId } from '../../lib/hashed-id';
import { beijingSlot } from '../../lib/time';
import { insertIfAbsent } from '../raw-sql';
import { auditDetail } from './hub-audit.entity';

/**
 * One row per alert raised (jobs/messaging/alert-ops.ts), so ops can read recent alerts after the
 * hourly mail has gone and the log lines have rotated. A job retried after raising an alert raises it
 * again with the same words: `dedupe_key` keeps that to one row.
 */
@Entity('hub_alert')
@Index('uk_hub_alert_dedupe_key', ['dedupeKey'], { unique: true })
@Index('idx_hub_alert_raised_at', ['raisedAt', 'id'])
@Index('idx_hub_alert_kind', ['kind', 'id'])
export class HubAlert {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  /** Beijing time, as every hub table. */
  @Column({ name: 'raised_at', type: 'datetime', precision: 3 })
  raisedAt!: Date;

  /** An AlertKind (lib/alerts.ts): the label of `jobhub_alerts_total`. */
  @Column({ type: 'varchar', length: 64 })
  kind!: string;

  @Column({ type: 'varchar', length: 500 })
  message!: string;

  /** The alert's details, masked as the logs are and cut to DETAIL_MAX_CHARS of JSON. */
  @Column({ type: 'json', nullable: true })
  details!: Record<string, unknown> | null;

  /** The job that raised it; null for the worker's own loops (the failed-jobs watch). */
  @Column({ name: 'job_name', type: 'varchar', length: 100, nullable: true })
  jobName!: string | null;

  @Column({ name: 'job_id', type: 'varchar', length: 512, nullable: true })
  jobId!: string | null;

  /** SHA-256 of kind, message, details and job id (or, without a job, the Beijing hour). */
  @Column({ name: 'dedupe_key', type: 'char', length: 64 })
  dedupeKey!: string;
}

export interface AlertRecord {
  kind: string;
  message: string;
  details: Record<string, unknown>;
  raisedAt: Date;
  job?: { readonly id: string; readonly name: string } | undefined;
}

/**
 * What makes two raises the same alert. A job's retry keeps its id, so its id is the scope; the
 * worker's loops have none and raise the same alert every period while a condition lasts, so theirs
 * is the Beijing hour, as the mail's. Stored keys depend on it: never change how one is derived.
 */
export function alertDedupeKey(record: AlertRecord, stored: Record<string, unknown> | null): string {
  const scope = record.job ? `job:${record.job.id}` : `hour:${beijingSlot(record.raisedAt).slice(0, 10)}`;
  return hashedId('', JSON.stringify([record.kind, record.message, stored, scope]));
}

/** Writes the alert's row unless the same alert already has one; true when this call wrote it. */
export async function recordAlert(db: DataSource, record: AlertRecord): Promise<boolean> {
  const details = Object.keys(record.details).length === 0 ? null : auditDetail(record.details);
  const { affectedRows } = await insertIfAbsent(db.manager, HubAlert, {
    raisedAt: record.raisedAt,
    kind: record.kind.slice(0, 64),
    message: record.message.slice(0, 500),
    details,
    jobName: record.job ? record.job.name.slice(0, 100) : null,
    jobId: record.job ? record.job.id.slice(0, 512) : null,
    dedupeKey: alertDedupeKey(record, details),
  });
  return affectedRows === 1;
}
