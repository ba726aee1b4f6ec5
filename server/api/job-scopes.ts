import type { JobDefinition, JobRegistry } from '../../jobs/define-job';
import type { JobScope, ScopedApiToken } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { isOpsJob } from '../../lib/queue-names';

/** Whether a token of this scope may enqueue the job and read its jobs: named one by one, or by its kind. */
export function mayUseJob(scope: JobScope, def: Pick<JobDefinition, 'name' | 'queue'>): boolean {
  if (scope.jobs.includes(def.name)) return true;
  return isOpsJob(def) ? scope.ops : scope.business;
}

/**
 * Refuses to start when a scope names a job this hub does not have: a typo would otherwise refuse
 * that client the job on every request, silently. Names the client, never the token.
 */
export function assertScopesKnown(tokens: readonly ScopedApiToken[], registry: JobRegistry): void {
  const problems = tokens.flatMap(({ client, scope }) =>
    scope.jobs
      .filter((name) => !registry.has(name))
      .map((name) => `HUB_API_TOKENS: the scope of client ${client} names ${JSON.stringify(name)}, which is no job of this hub`),
  );
  if (problems.length > 0) throw new ConfigError(problems);
}
