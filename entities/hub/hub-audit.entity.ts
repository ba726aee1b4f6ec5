import { Column, Entity, Index, PrimaryGeneratedColumn, type DataSource, type EntityManager } from 'typeorm';
import { redactDeep } from '../../lib/redact';

export type AuditActorKind = 'board' | 'api' | 'cli';
export type AuditOutcome = 'ok' | 'failed' | 'refused';

/**
 * One row per write someone asked of the hub, by the dashboard, the API or a command: who, what,
 * on what, from where, and how it ended. Written after the action, refused attempts included.
 */
@Entity('hub_audit')
@Index('idx_hub_audit_occurred_at', ['occurredAt', 'id'])
@Index('idx_hub_audit_actor', ['actor', 'id'])
@Index('idx_hub_audit_action', ['action', 'id'])
export class HubAudit {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  /** Beijing time, as every hub table. */
  @Column({ name: 'occurred_at', type: 'datetime', precision: 3 })
  occurredAt!: Date;

  /** The person or API client; `(anonymous)` when a refused request named nobody. */
  @Column({ type: 'varchar', length: 200 })
  actor!: string;

  @Column({ name: 'actor_kind', type: 'varchar', length: 8 })
  actorKind!: AuditActorKind;

  /** The dashboard role, or the API token's scope (`business|ops`). */
  @Column({ type: 'varchar', length: 200, nullable: true })
  role!: string | null;

  /** `job.retry`, `queue.pause`, `job.enqueue`, `refund.request`… */
  @Column({ type: 'varchar', length: 64 })
  action!: string;

  @Column({ type: 'varchar', length: 64, nullable: true })
  queue!: string | null;

  @Column({ name: 'job_ids', type: 'json', nullable: true })
  jobIds!: string[] | null;

  /** out_refund_no, out_trade_no or an Idempotency-Key: what the business side calls the thing. */
  @Column({ name: 'business_key', type: 'varchar', length: 255, nullable: true })
  businessKey!: string | null;

  @Column({ name: 'source_address', type: 'varchar', length: 64, nullable: true })
  sourceAddress!: string | null;

  @Column({ type: 'varchar', length: 8 })
  outcome!: AuditOutcome;

  @Column({ name: 'status_code', type: 'smallint', unsigned: true, nullable: true })
  statusCode!: number | null;

  /** The answer or the error, masked as the logs are and cut to DETAIL_MAX_CHARS. */
  @Column({ type: 'json', nullable: true })
  detail!: Record<string, unknown> | null;
}

export interface AuditEntry {
  occurredAt?: Date;
  actor: string | null;
  actorKind: AuditActorKind;
  role?: string | null;
  action: string;
  queue?: string | null;
  jobIds?: readonly string[] | null;
  businessKey?: string | null;
  sourceAddress?: string | null;
  outcome: AuditOutcome;
  statusCode?: number | null;
  detail?: unknown;
}

/** An audit row is a trail, not a copy of the data: a long answer keeps its first characters. */
export const DETAIL_MAX_CHARS = 2_000;

const cut = (text: string | null | undefined, max: number): string | null => (text == null ? null : text.slice(0, max));

/**
 * The detail as stored: an object (anything else under `value`), masked by the log rules, and past
 * DETAIL_MAX_CHARS of JSON a `{truncated, text}` stub.
 */
export function auditDetail(detail: unknown): Record<string, unknown> | null {
  if (detail === undefined || detail === null) return null;
  const masked = redactDeep(detail);
  const wrapped: Record<string, unknown> = masked !== null && typeof masked === 'object' && !Array.isArray(masked) ? (masked as Record<string, unknown>) : { value: masked };
  const text = JSON.stringify(wrapped);
  return text.length <= DETAIL_MAX_CHARS ? wrapped : { truncated: true, text: text.slice(0, DETAIL_MAX_CHARS) };
}

/** Writes one audit row; the caller decides what a failed write means (the web never fails the action for it). */
export async function recordAudit(db: DataSource | EntityManager, entry: AuditEntry): Promise<void> {
  await recordAudits(db, [entry]);
}

const AUDIT_COLUMNS = ['occurred_at', 'actor', 'actor_kind', 'role', 'action', 'queue', 'job_ids', 'business_key', 'source_address', 'outcome', 'status_code', 'detail'] as const;
const json = (value: unknown): string | null => (value === null ? null : JSON.stringify(value));

/** One row's values in AUDIT_COLUMNS order, cut to the columns' lengths. */
function auditValues(entry: AuditEntry): unknown[] {
  return [
    entry.occurredAt ?? new Date(),
    cut(entry.actor, 200) ?? '(anonymous)',
    entry.actorKind,
    cut(entry.role, 200),
    entry.action.slice(0, 64),
    cut(entry.queue, 64),
    json(entry.jobIds ? entry.jobIds.slice(0, 100).map((id) => id.slice(0, 512)) : null),
    cut(entry.businessKey, 255),
    cut(entry.sourceAddress, 64),
    entry.outcome,
    entry.statusCode ?? null,
    json(auditDetail(entry.detail)),
  ];
}

/**
 * Writes audit rows in one multi-row INSERT (autocommit: one statement, no transaction around it),
 * so a burst of API writes costs one round trip and one commit, not one per request. Plain SQL:
 * TypeORM's builder costs more CPU than the web's whole request at a few thousand rows a second.
 */
export async function recordAudits(db: DataSource | EntityManager, entries: readonly AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const row = `(${AUDIT_COLUMNS.map(() => '?').join(', ')})`;
  await db.query(
    `INSERT INTO hub_audit (${AUDIT_COLUMNS.join(', ')}) VALUES ${entries.map(() => row).join(', ')}`,
    entries.flatMap(auditValues),
  );
}
