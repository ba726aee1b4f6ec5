import type { DataSource } from 'typeorm';
import { checkSchema, describeSchemaProblem, type SchemaProblem } from '../entities/schema/schema-check';
import type { EntityClass } from '../jobs/define-job';
import { withTimeout } from '../lib/async';
import type { Logger } from '../lib/logger';
import type { ReadinessCheck } from '../lib/health';

export interface SchemaGuard {
  /** Runs the check again now (also done every refreshMs). Never throws: a failing check is logged and kept as the reason. */
  refresh(): Promise<void>;
  /** Why this job may not run now (a table, column or unique key it relies on is missing), or undefined. */
  refusalFor(def: { name: string; entities?: readonly EntityClass[] }): string | undefined;
  /** For /readyz: fails (throws) listing the blocking problems; passes when only non-blocking differences (type, length, nullability) exist. */
  readonly readiness: ReadinessCheck;
  stop(): void;
}

export interface SchemaGuardOptions {
  refreshMs?: number;
}

/** What the last check found, reduced to what the per-job and per-probe calls read. */
type Verdict =
  | { ok: true; blocking: string[]; byTable: ReadonlyMap<string, string> }
  | { ok: false; error: string };

const DEFAULT_REFRESH_MS = 60_000;
/** After a check that could not read the schema (MySQL away), the next comes this soon: readiness returns with MySQL, not a period later. */
const RETRY_FAILED_MS = 2_000;
/** A hung connection must not freeze the guard on its last verdict: the check gives up and tries again next time. */
const CHECK_TIMEOUT_MS = 30_000;

function judge(problems: readonly SchemaProblem[]): Verdict {
  const blocking = problems.filter((p) => p.blocking);
  const perTable = new Map<string, string[]>();
  for (const p of blocking) perTable.set(p.table, [...(perTable.get(p.table) ?? []), describeSchemaProblem(p)]);
  const byTable = new Map([...perTable].map(([table, lines]) => [table, lines.join('; ')]));
  return { ok: true, blocking: blocking.map(describeSchemaProblem), byTable };
}

/** The same set of problems in any order gives the same key, so only a real change is logged again. */
function signatureOf(outcome: SchemaProblem[] | Error): string {
  if (outcome instanceof Error) return `failed: ${outcome.message}`;
  return JSON.stringify(outcome.map((p) => `${describeSchemaProblem(p)}|${p.blocking}`).sort());
}

/**
 * Keeps the schema check's verdict at hand: the runner asks it before every job, `/readyz` on every
 * probe, and neither may cost a query. The first check runs before this resolves.
 */
export async function startSchemaGuard(db: DataSource, log: Logger, options: SchemaGuardOptions = {}): Promise<SchemaGuard> {
  const refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
  const tables = new WeakMap<EntityClass, string | undefined>();
  let verdict: Verdict = { ok: false, error: 'schema not checked yet' };
  let signature = '';
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  function record(outcome: SchemaProblem[] | Error): void {
    verdict = outcome instanceof Error ? { ok: false, error: outcome.message } : judge(outcome);
    const next = signatureOf(outcome);
    if (next === signature || stopped) return;
    signature = next;
    if (outcome instanceof Error) log.warn({ err: outcome }, 'schema check failed');
    else if (outcome.length === 0) log.info('schema check: every entity matches the database');
    else for (const p of outcome) log.warn({ table: p.table, column: p.column, problem: p.problem, blocking: p.blocking }, `schema check: ${describeSchemaProblem(p)}`);
  }

  async function checkOnce(): Promise<void> {
    try {
      record(await withTimeout(checkSchema(db), CHECK_TIMEOUT_MS, () => new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)));
    } catch (err) {
      record(err instanceof Error ? err : new Error(String(err)));
    }
  }

  // Never two checks at once. A call during a check waits for it and then checks again, since the
  // caller may have changed the schema after that check read it; further calls share that one.
  function refresh(): Promise<void> {
    if (!running) {
      running = checkOnce().finally(() => (running = undefined));
      return running;
    }
    queued ??= running.then(() => {
      queued = undefined;
      return refresh();
    });
    return queued;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => void refresh().finally(schedule), verdict.ok ? refreshMs : Math.min(refreshMs, RETRY_FAILED_MS));
    // The guard alone never keeps a process alive.
    timer.unref();
  }

  /** `database.table` as checkSchema names it, or undefined for a class the data source does not know. */
  function tableOf(entity: EntityClass): string | undefined {
    if (!tables.has(entity)) {
      const meta = db.hasMetadata(entity) ? db.getMetadata(entity) : undefined;
      tables.set(entity, meta && `${meta.database ?? String(db.options.database)}.${meta.tableName}`);
    }
    return tables.get(entity);
  }

  await refresh();
  schedule();

  return {
    refresh,
    refusalFor(def) {
      // A failed check says nothing about the tables: the job's own queries fail and are retried.
      if (!def.entities || !verdict.ok) return undefined;
      const reasons = new Set<string>();
      for (const entity of def.entities) {
        const table = tableOf(entity);
        // Its table was never checked, so nothing vouches for it: a mistake in the job, refused until fixed.
        if (table === undefined) reasons.add(`${entity.name} is not an entity of this data source`);
        else {
          const reason = verdict.byTable.get(table);
          if (reason !== undefined) reasons.add(reason);
        }
      }
      return reasons.size === 0 ? undefined : `schema check: ${[...reasons].join('; ')}`;
    },
    readiness: {
      name: 'schema',
      async run() {
        if (!verdict.ok) throw new Error(`schema check failed: ${verdict.error}`);
        if (verdict.blocking.length > 0) throw new Error(`${verdict.blocking.length} blocking schema problem(s): ${verdict.blocking.join('; ')}`);
      },
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
