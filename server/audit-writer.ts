import type { DataSource } from 'typeorm';
import { recordAudits, type AuditEntry } from '../entities/hub/hub-audit.entity';
import type { Logger } from '../lib/logger';
import { auditWriteFailures } from '../lib/metrics';

/** One INSERT's worth: past this a burst is written in several statements. */
const MAX_ROWS_PER_INSERT = 500;

/**
 * The web's audit rows, written as soon as they come, with no timer: while one INSERT is in flight
 * the rows that arrive wait for it and go together in the next (group commit). At a trickle every
 * row is its own INSERT; under a burst of API writes the rows of a few milliseconds share one
 * round trip and one commit, so the audit does not halve the API's throughput. A row that cannot
 * be written is logged and counted; it never fails the action it records.
 */
export class AuditWriter {
  private pending: AuditEntry[] = [];
  private writing: Promise<void> | null = null;

  constructor(
    private readonly db: DataSource,
    private readonly log: Logger,
  ) {}

  write(entry: AuditEntry): void {
    this.pending.push(entry);
    this.writing ??= this.writeAll();
  }

  /** Resolves once every row handed in so far is written (or counted as failed): shutdown and tests wait on it. */
  async drain(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private failed(entry: AuditEntry, err: unknown): void {
    auditWriteFailures.inc();
    this.log.error({ err, action: entry.action, actor: entry.actor, status: entry.statusCode }, 'audit row not written');
  }

  private async writeAll(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, MAX_ROWS_PER_INSERT);
        try {
          await recordAudits(this.db, batch);
        } catch (err) {
          // One row the server refuses must not take its neighbours with it: each is tried alone.
          if (batch.length === 1) this.failed(batch[0] as AuditEntry, err);
          else for (const entry of batch) await recordAudits(this.db, [entry]).catch((alone: unknown) => this.failed(entry, alone));
        }
      }
    } finally {
      this.writing = null;
    }
  }
}
