import type { EntityManager } from 'typeorm';

/**
 * A caller's open transaction that a write joins, and the work to do once it has committed.
 * Alerts go there: raising one writes its own row, which inside the caller's transaction would wait
 * for a second pool connection while holding the first (enough of those at once and the pool is
 * exhausted), and would tell ops of a change the caller may still roll back.
 */
export interface CallerTransaction {
  manager: EntityManager;
  afterCommit: (() => Promise<void>)[];
}

/** Runs `work` in a new transaction joined as a CallerTransaction, then what it left for after the commit. */
export async function withAfterCommit<T>(db: { transaction<R>(run: (m: EntityManager) => Promise<R>): Promise<R> }, work: (tx: CallerTransaction) => Promise<T>): Promise<T> {
  const afterCommit: CallerTransaction['afterCommit'] = [];
  const result = await db.transaction((manager) => work({ manager, afterCommit }));
  for (const task of afterCommit) await task();
  return result;
}

/** Runs deferred tasks now, or hands them to the caller's transaction to run after its commit. */
export async function afterOwnCommit(tasks: (() => Promise<void>)[], within: CallerTransaction | undefined): Promise<void> {
  if (within) {
    within.afterCommit.push(...tasks);
    return;
  }
  for (const task of tasks) await task();
}
