import type { FastifyInstance } from 'fastify';
import type { RedisConnection } from './redis';
import type { DataSource } from 'typeorm';
import { withTimeout } from './async';
import { DEPENDENCIES, reportDependenciesWith, type Dependency } from './metrics';

/** One thing `/readyz` needs: resolves when fine, throws saying what is wrong. */
export interface ReadinessCheck {
  readonly name: string;
  run(): Promise<void>;
}

interface CheckOutcome {
  ok: boolean;
  ms: number;
  error?: string;
}

const CHECK_TIMEOUT_MS = 3_000;

/** `/healthz`: the process is up. `/readyz`: it can do its work now (every check passes). */
export function registerHealthRoutes(app: FastifyInstance, checks: readonly ReadinessCheck[]): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  reportDependencies(checks);
  app.get('/readyz', async (_request, reply) => {
    const outcomes = await Promise.all(checks.map(runCheck));
    const results = Object.fromEntries(checks.map((check, i) => [check.name, outcomes[i]]));
    const ready = outcomes.every((o) => o.ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks: results });
  });
}

const isDependency = (name: string): name is Dependency => (DEPENDENCIES as readonly string[]).includes(name);

/** `jobhub_dependency_up` runs the same Redis and MySQL checks as `/readyz`, with the same time limit. */
function reportDependencies(checks: readonly ReadinessCheck[]): void {
  const dependencies = checks.flatMap((check) => (isDependency(check.name) ? [{ dependency: check.name, check }] : []));
  if (dependencies.length === 0) return;
  reportDependenciesWith(async () => {
    const outcomes = await Promise.all(dependencies.map(({ check }) => runCheck(check)));
    return new Map(dependencies.map(({ dependency }, i) => [dependency, outcomes[i]?.ok ?? false]));
  });
}

async function runCheck(check: ReadinessCheck): Promise<CheckOutcome> {
  const started = performance.now();
  try {
    await withTimeout(check.run(), CHECK_TIMEOUT_MS, () => new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`));
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, ms: Math.round(performance.now() - started), error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * What every process needs to work: Redis answering on its producer connection, MySQL answering
 * and writable. A primary demoted in a failover answers reads but refuses every write (1290), so
 * `read_only` on is as unready as no answer at all.
 */
export function connectionChecks(db: DataSource, redis: RedisConnection): ReadinessCheck[] {
  return [
    {
      name: 'redis',
      async run() {
        if (redis.status !== 'ready') throw new Error(`connection is ${redis.status}`);
        await redis.ping();
      },
    },
    {
      name: 'mysql',
      async run() {
        const [row] = (await db.query('SELECT @@global.read_only AS readOnly')) as { readOnly: number | string }[];
        if (Number(row?.readOnly) !== 0) throw new Error('the server is read-only (a replica, or a primary being failed over): writes are refused');
      },
    },
  ];
}
