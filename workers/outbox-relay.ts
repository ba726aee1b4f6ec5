import type { DataSource, EntityManager } from 'typeorm';
import { createSleeper } from '../lib/async';
import { HubOutbox } from '../entities/hub/hub-outbox.entity';
import type { JobRegistry } from '../jobs/define-job';
import { InvalidPayloadError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { outboxRows } from '../lib/metrics';
import { prepareJob, type PreparedJob } from './enqueue';
import type { QueueName } from './queue-names';
import type { QueueSet } from './queues';

export interface OutboxRelayDeps { db: DataSource; registry: JobRegistry; queues: QueueSet; log: Logger; now: () => Date }

export interface OutboxRelayOptions { pollMs: number; batchSize?: number }

export interface RelayReport {
  claimed: number;
  /** Row ids; their job ids are `outbox-<id>`. */
  enqueued: string[];
  failed: string[];
  /** Valid rows Redis refused: still PENDING, tried again after a back-off. */
  deferred: string[];
}

export interface OutboxRelay {
  /** One batch. Throws only when MySQL fails: Redis refusing is reported as `deferred`. */
  relayOnce(): Promise<RelayReport>;
  /** Starts the poll loop (`startOutboxRelay` does); tests that drive `relayOnce` themselves never call it. */
  start(): void;
  /** Ends the loop and waits for a batch in flight; leaves no timer behind. */
  stop(): Promise<void>;
}

const LAST_ERROR_CHARS = 1_000;
/** The longest wait between tries while Redis or MySQL keeps failing. */
const MAX_BACKOFF_MS = 30_000;
type ClaimedRow = { id: string; jobName: string; payload: string | null };
type FailedRow = { id: string; reason: string };

/** Thrown inside the claim transaction so that it rolls back. */
class EnqueueRefused extends Error {
  constructor(readonly claimed: number, readonly ids: string[], readonly reason: unknown) {
    super(`enqueue failed: ${reason instanceof Error ? reason.message : String(reason)}`);
  }
}

/** Cut by characters, not UTF-16 units: no surrogate pair is split, and strict mode never refuses the UPDATE. */
const fitLastError = (text: string): string => [...text].slice(0, LAST_ERROR_CHARS).join('');

/** The job ready for addBulk, or why the row can never be enqueued. */
function prepareRow(registry: JobRegistry, row: ClaimedRow): PreparedJob | string {
  const def = registry.get(row.jobName);
  if (!def) return `no job named ${JSON.stringify(row.jobName)} in this hub`;
  try {
    return prepareJob(def, JSON.parse(row.payload ?? 'null'), { jobId: `outbox-${row.id}` });
  } catch (err) {
    if (err instanceof InvalidPayloadError) return `invalid payload for ${def.name}: ${err.message}`;
    if (err instanceof SyntaxError) return `payload of ${def.name} is not JSON`;
    throw err;
  }
}

/** The relay without its loop running: call `start()`, or drive `relayOnce()` (tests). */
export function createOutboxRelay(deps: OutboxRelayDeps, options: OutboxRelayOptions): OutboxRelay {
  const { db, registry, queues, log, now } = deps;
  const batchSize = options.batchSize ?? 500;
  const maxBackoffMs = Math.max(MAX_BACKOFF_MS, options.pollMs);
  const update = (manager: EntityManager) => manager.createQueryBuilder().update(HubOutbox);
  const bigIds = (ids: readonly string[]) => ids.map((id) => BigInt(id));
  const claim = (manager: EntityManager, at: Date): Promise<ClaimedRow[]> =>
    manager
      .createQueryBuilder(HubOutbox, 'o')
      .select('o.id', 'id').addSelect('o.job_name', 'jobName')
      // MySQL 8 returns JSON parsed and MariaDB as text: as text from both, parsed in one place.
      .addSelect('CAST(o.payload AS CHAR)', 'payload')
      .where("o.status = 'PENDING' AND (o.run_at IS NULL OR o.run_at <= :at)", { at })
      .orderBy('o.id', 'ASC').limit(batchSize)
      // SKIP LOCKED: relays in other processes take the next rows instead of waiting for these.
      .setLock('pessimistic_write').setOnLocked('skip_locked')
      .getRawMany<ClaimedRow>();

  async function markFailed(manager: EntityManager, failed: readonly FailedRow[], at: Date): Promise<void> {
    if (failed.length === 0) return;
    // Each row has its own reason, yet one statement: a CASE over the ids.
    const params: Record<string, unknown> = {};
    const cases = failed.map((f, i) => {
      params[`fid${i}`] = BigInt(f.id);
      params[`reason${i}`] = fitLastError(f.reason);
      return `WHEN :fid${i} THEN :reason${i}`;
    });
    await update(manager)
      .set({ status: 'FAILED', attempts: () => 'attempts + 1', lastError: () => `CASE id ${cases.join(' ')} END`, updatedTime: at })
      .where('id IN (:...failedIds)', { failedIds: bigIds(failed.map((f) => f.id)) })
      .setParameters(params)
      .execute();
  }

  async function relayOnce(): Promise<RelayReport> {
    const at = now();
    let done: { claimed: number; ready: string[]; failed: FailedRow[] };
    try {
      // READ COMMITTED: no gap locks, so the other systems' inserts never wait for the relay.
      done = await db.transaction('READ COMMITTED', async (manager) => {
        const rows = await claim(manager, at);
        const failed: FailedRow[] = [];
        const byQueue = new Map<QueueName, PreparedJob[]>();
        for (const row of rows) {
          const job = prepareRow(registry, row);
          if (typeof job === 'string') failed.push({ id: row.id, reason: job });
          else byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);
        }
        const ready = rows.map((r) => r.id).filter((id) => !failed.some((f) => f.id === id));
        // Added before the commit: should the commit fail, the next try adds the same job ids, which BullMQ
        // ignores while it still holds them (completed jobs are kept an hour).
        const adds = [...byQueue].map(([queue, jobs]) => queues.get(queue).addBulk(jobs.map(({ name, data, opts }) => ({ name, data, opts }))));
        await Promise.all(adds).catch((err: unknown) => {
          throw new EnqueueRefused(rows.length, ready, err);
        });
        if (ready.length > 0) {
          await update(manager)
            .set({ status: 'ENQUEUED', jobId: () => "CONCAT('outbox-', id)", attempts: () => 'attempts + 1', updatedTime: at })
            .where('id IN (:...ids)', { ids: bigIds(ready) })
            .execute();
        }
        await markFailed(manager, failed, at);
        return { claimed: rows.length, ready, failed };
      });
    } catch (err) {
      if (!(err instanceof EnqueueRefused)) throw err;
      log.warn({ err: err.reason, rows: err.ids.length }, 'Redis refused the outbox batch: rows stay PENDING');
      // Best effort, after the rollback: ops see why a row still waits and how often it was tried.
      await update(db.manager)
        .set({ attempts: () => 'attempts + 1', lastError: fitLastError(err.message), updatedTime: at })
        .where("id IN (:...ids) AND status = 'PENDING'", { ids: bigIds(err.ids) })
        .execute()
        .catch((cause: unknown) => log.warn({ err: cause }, 'could not record the refused outbox rows'));
      return { claimed: err.claimed, enqueued: [], failed: [], deferred: err.ids };
    }
    // Logged only once committed: a rolled-back FAILED would be judged, and logged, again.
    for (const f of done.failed) log.warn({ outboxId: f.id, reason: f.reason }, 'outbox row failed');
    outboxRows.inc({ outcome: 'enqueued' }, done.ready.length);
    outboxRows.inc({ outcome: 'failed' }, done.failed.length);
    if (done.claimed > 0) log.info({ claimed: done.claimed, enqueued: done.ready.length, failed: done.failed.length }, 'outbox batch relayed');
    return { claimed: done.claimed, enqueued: done.ready, failed: done.failed.map((f) => f.id), deferred: [] };
  }

  const sleeper = createSleeper();
  let loop: Promise<void> | undefined;

  async function run(): Promise<void> {
    let failures = 0;
    while (!sleeper.stopped) {
      let full = false;
      try {
        const report = await relayOnce();
        failures = report.deferred.length > 0 ? failures + 1 : 0;
        full = failures === 0 && report.claimed === batchSize;
      } catch (err) {
        failures += 1;
        log.warn({ err }, 'outbox relay batch failed: backing off');
      }
      // A full batch means a backlog: the next one at once; after failures, exponentially later.
      if (!full) await sleeper.sleep(Math.min(options.pollMs * 2 ** Math.min(failures, 16), maxBackoffMs));
    }
  }

  return {
    relayOnce,
    start() {
      if (!loop && !sleeper.stopped) loop = run();
    },
    async stop() {
      sleeper.stop();
      await loop;
    },
  };
}

/** The relay with its poll loop running: what the worker process uses. */
export function startOutboxRelay(deps: OutboxRelayDeps, options: OutboxRelayOptions): OutboxRelay {
  const relay = createOutboxRelay(deps, options);
  relay.start();
  return relay;
}
