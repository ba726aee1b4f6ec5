import type { DataSource, EntityManager } from 'typeorm';
import { createSleeper } from '../lib/async';
import { HubOutbox } from '../entities/hub/hub-outbox.entity';
import type { JobRegistry } from '../jobs/define-job';
import type { Logger } from '../lib/logger';
import { outboxRows } from '../lib/metrics';
import {
  OUTBOX_JOB_PREFIX,
  addByQueue,
  bigIds,
  fitLastError,
  markOutboxRowsFailed,
  prepareOutboxRows,
  selectOutboxRows,
  type OutboxFailure,
  type OutboxRow,
} from './outbox-rows';
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

/** The longest wait between tries while Redis or MySQL keeps failing: the relay resumes within seconds of their return. */
const MAX_BACKOFF_MS = 10_000;

/** Thrown inside the claim transaction so that it rolls back. */
class EnqueueRefused extends Error {
  constructor(readonly claimed: number, readonly ids: string[], readonly reason: unknown) {
    super(`enqueue failed: ${reason instanceof Error ? reason.message : String(reason)}`);
  }
}

/** The relay without its loop running: call `start()`, or drive `relayOnce()` (tests). */
export function createOutboxRelay(deps: OutboxRelayDeps, options: OutboxRelayOptions): OutboxRelay {
  const { db, registry, queues, log, now } = deps;
  const batchSize = options.batchSize ?? 500;
  const maxBackoffMs = Math.max(MAX_BACKOFF_MS, options.pollMs);
  const update = (manager: EntityManager) => manager.createQueryBuilder().update(HubOutbox);
  const claim = (manager: EntityManager, at: Date): Promise<OutboxRow[]> =>
    selectOutboxRows(manager)
      .where("o.status = 'PENDING' AND (o.run_at IS NULL OR o.run_at <= :at)", { at })
      .orderBy('o.id', 'ASC').limit(batchSize)
      // SKIP LOCKED: relays in other processes take the next rows instead of waiting for these.
      .setLock('pessimistic_write').setOnLocked('skip_locked')
      .getRawMany<OutboxRow>();

  async function relayOnce(): Promise<RelayReport> {
    const at = now();
    let done: { claimed: number; ready: string[]; failed: OutboxFailure[] };
    try {
      // READ COMMITTED: no gap locks, so the other systems' inserts never wait for the relay.
      done = await db.transaction('READ COMMITTED', async (manager) => {
        const rows = await claim(manager, at);
        const { jobs, ready, failed } = prepareOutboxRows(registry, rows);
        // Added before the commit: should the commit fail, the next try adds the same job ids, which BullMQ
        // ignores while it still holds them (completed jobs are kept an hour).
        await addByQueue(queues, jobs).catch((err: unknown) => {
          throw new EnqueueRefused(rows.length, ready, err);
        });
        if (ready.length > 0) {
          await update(manager)
            .set({ status: 'ENQUEUED', jobId: () => `CONCAT('${OUTBOX_JOB_PREFIX}', id)`, attempts: () => 'attempts + 1', updatedTime: at })
            .where('id IN (:...ids)', { ids: bigIds(ready) })
            .execute();
        }
        await markOutboxRowsFailed(manager, failed, at, 'PENDING');
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
