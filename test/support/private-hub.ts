import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Job } from 'bullmq';
import type { DataSource } from 'typeorm';
import { HubOutbox } from '../../entities/hub/hub-outbox.entity';
import { registry } from '../../jobs';
import { QUEUE_NAMES, type QueueName } from '../../lib/queue-names';
import { closeRedis, createRedis, waitForRedis, type RedisConnection } from '../../lib/redis';
import { hubRedisKeys } from '../../lib/redis-keys';
import { QueueSet } from '../../workers/queues';
import { childEnv, testConfig } from './env';
import { spawnBuilt, type HubProcess } from './processes';
import { track } from './resources';
import { until } from './wait';

/**
 * The hub as production runs it, three built processes (web, worker, clock), on a MariaDB and a
 * Redis of the test's own: the chaos scenarios break those servers, never the shared ones.
 */

export type HubRoleName = 'web' | 'worker' | 'clock';

/** What each process logs once when it has started: a second line would be a restart. */
const STARTED: Record<HubRoleName, RegExp> = {
  web: /"msg":"web listening"/g,
  worker: /"msg":"workers started"/g,
  clock: /"msg":"clock started"/g,
};

const ENTRIES: Record<HubRoleName, string> = { web: 'server/web.main.js', worker: 'workers/worker.main.js', clock: 'workers/clock.main.js' };

export interface ApiAnswer {
  status: number;
  retryAfter: string | null;
  body: Record<string, unknown>;
}

export interface PrivateHubOptions {
  mysqlUrl: string;
  redisUrl: string;
  prefix: string;
  /** A token scoped to every job, business and ops. */
  token: string;
  env?: Record<string, string>;
  /** REDIS_CLUSTER_NODES: the hub (and the test's queues) on a cluster; `redisUrl` then only carries credentials. */
  clusterNodes?: string;
}

export interface PrivateHub {
  readonly prefix: string;
  /** The processes by role, in the order they started. */
  readonly processes: Readonly<Record<HubRoleName, HubProcess>>;
  /** The test's own producer queues on the hub's Redis, to read job states. */
  readonly queues: QueueSet;
  /** A request to the web process, with the token; a lost connection answers status 0. */
  api(method: 'GET' | 'POST', path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer>;
  /** A process's `/readyz` (the web's port, or the worker's and clock's metrics port). */
  readyz(role: HubRoleName): Promise<ApiAnswer>;
  /** How often each process logged its start. */
  starts(): Record<HubRoleName, number>;
  /** Roles whose process is no longer running. */
  exited(): HubRoleName[];
  /** The clock's `slot enqueued` lines logged in [fromMs, toMs]: the slots it fired then. */
  slotsEnqueued(fromMs: number, toMs: number): { job: string; jobId: string }[];
  /** The tail of every process's output, for a failure's message. */
  tails(chars?: number): string;
  /** SIGTERM to every process; the exit codes by role. */
  close(): Promise<Record<HubRoleName, number | null>>;
}

const portOf = (proc: HubProcess, msg: string): number => {
  const port = new RegExp(`"port":(\\d+)[^\\n]*"msg":"${msg}"`).exec(proc.stdout())?.[1];
  if (!port) throw new Error(`no port in the "${msg}" line:\n${proc.stdout()}`);
  return Number(port);
};

async function answer(res: Response): Promise<ApiAnswer> {
  const text = await res.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
}

export async function startPrivateHub(options: PrivateHubOptions): Promise<PrivateHub> {
  const env = childEnv({
    MYSQL_URL: options.mysqlUrl,
    REDIS_URL: options.redisUrl,
    HUB_QUEUE_PREFIX: options.prefix,
    HUB_API_TOKENS: `chaos:${options.token}:business|ops`,
    // preparePrivateDatabase did both: a process that starts does neither.
    HUB_MIGRATE_ON_START: 'false',
    HUB_BUSINESS_SCHEMA_ON_START: 'false',
    HUB_SHUTDOWN_GRACE_MS: '5000',
    ...(options.clusterNodes ? { REDIS_CLUSTER_NODES: options.clusterNodes } : {}),
    ...options.env,
  });
  const processes: Partial<Record<HubRoleName, HubProcess>> = {};
  const spawned: HubProcess[] = [];
  const stopAll = async (): Promise<void> => {
    for (const p of spawned) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await Promise.all(spawned.map((p) => p.exited()));
  };
  try {
    for (const role of ['web', 'worker', 'clock'] as const) {
      const proc = spawnBuilt(ENTRIES[role], env);
      spawned.push(proc);
      processes[role] = proc;
    }
    await Promise.all((['web', 'worker', 'clock'] as const).map((role) => processes[role]?.waitFor(new RegExp(STARTED[role].source), 60_000)));
    await Promise.all((['worker', 'clock'] as const).map((role) => processes[role]?.waitFor(/"msg":"metrics listening"/, 10_000)));
  } catch (err) {
    await stopAll();
    throw err;
  }
  const all = processes as Record<HubRoleName, HubProcess>;
  const ports: Record<HubRoleName, number> = {
    web: portOf(all.web, 'web listening'),
    worker: portOf(all.worker, 'metrics listening'),
    clock: portOf(all.clock, 'metrics listening'),
  };
  const redisConfig = testConfig({ REDIS_URL: options.redisUrl, HUB_QUEUE_PREFIX: options.prefix, ...(options.clusterNodes ? { REDIS_CLUSTER_NODES: options.clusterNodes } : {}) }).redis;
  const producer: RedisConnection = track({ kind: 'redis', value: createRedis(redisConfig, 'producer', 'jobhub-test') });
  await waitForRedis(producer);
  const queues = new QueueSet(producer, hubRedisKeys(redisConfig));
  const auth = { authorization: `Bearer ${options.token}` };

  return {
    prefix: options.prefix,
    processes: all,
    queues,
    async api(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers } };
      if (body !== undefined) init.body = JSON.stringify(body);
      return fetch(`http://127.0.0.1:${ports.web}${path}`, init).then(answer, (err: unknown) => ({ status: 0, retryAfter: null, body: { text: String(err) } }));
    },
    readyz: (role) =>
      fetch(`http://127.0.0.1:${ports[role]}/readyz`).then(answer, (err: unknown) => ({ status: 0, retryAfter: null, body: { text: String(err) } })),
    starts: () => ({
      web: all.web.stdout().match(STARTED.web)?.length ?? 0,
      worker: all.worker.stdout().match(STARTED.worker)?.length ?? 0,
      clock: all.clock.stdout().match(STARTED.clock)?.length ?? 0,
    }),
    exited: () => (['web', 'worker', 'clock'] as const).filter((role) => all[role].child.exitCode !== null || all[role].child.signalCode !== null),
    slotsEnqueued(fromMs, toMs) {
      return all.clock
        .stdout()
        .split('\n')
        .filter((line) => line.includes('"msg":"slot enqueued"'))
        .map((line) => JSON.parse(line) as { time: number | string; job: string; jobId: string })
        .filter((l) => {
          const at = typeof l.time === 'number' ? l.time : Date.parse(l.time);
          return at >= fromMs && at <= toMs;
        })
        .map(({ job, jobId }) => ({ job, jobId }));
    },
    tails: (chars = 4_000) =>
      (['web', 'worker', 'clock'] as const).map((role) => `--- ${role}\n${all[role].stdout().slice(-chars)}${all[role].stderr().slice(-chars)}`).join('\n'),
    async close() {
      await stopAll();
      // JOBHUB_CHAOS_LOGS=<dir> keeps each process's log of the run, for reading a recovery afterwards.
      const keep = process.env.JOBHUB_CHAOS_LOGS;
      if (keep) for (const role of ['web', 'worker', 'clock'] as const) writeFileSync(join(keep, `${options.prefix}-${role}.log`), all[role].stdout() + all[role].stderr());
      await queues.close();
      await closeRedis(producer);
      return { web: all.web.child.exitCode, worker: all.worker.child.exitCode, clock: all.clock.child.exitCode };
    },
  };
}

/** The queue a job of the registry runs on. */
export function queueOfJob(name: string): QueueName {
  const def = registry.get(name);
  if (!def) throw new Error(`no job ${name} in the registry`);
  return def.queue;
}

export interface QueueVerdict {
  /** `<queue>/<id> <name>: <reason>` of every job failed for good, in every queue. */
  failed: string[];
  /** Jobs active, waiting or delayed, by queue: non-zero once everything is done means stuck work. */
  unfinished: Record<string, number>;
  active: number;
}

/** Every queue's failed set and what is still to run, read from Redis. */
export async function queueVerdict(queues: QueueSet): Promise<QueueVerdict> {
  const failed: string[] = [];
  const unfinished: Record<string, number> = {};
  let active = 0;
  for (const name of QUEUE_NAMES) {
    const queue = queues.get(name);
    const counts = await queue.getJobCounts('failed', 'active', 'waiting', 'delayed', 'prioritized');
    const jobs: Job[] = counts.failed ? await queue.getFailed(0, -1) : [];
    failed.push(...jobs.map((j) => `${name}/${j.id ?? '?'} ${j.name}: ${j.failedReason}`));
    const rest = (counts.active ?? 0) + (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0);
    if (rest > 0) unfinished[name] = rest;
    active += counts.active ?? 0;
  }
  return { failed, unfinished, active };
}

/** The states of the given jobs (`<queue>/<id>`), `missing` for one Redis no longer holds. */
export async function jobStates(queues: QueueSet, jobs: readonly { queue: QueueName; id: string }[]): Promise<Map<string, string>> {
  const states = new Map<string, string>();
  for (const { queue, id } of jobs) states.set(`${queue}/${id}`, String(await queues.get(queue).getJobState(id)).replace('unknown', 'missing'));
  return states;
}

/**
 * Jobs that spent more than the one attempt they completed on (`<queue>/<id> <name>: attemptsMade`):
 * an outage of the database is waited out, never paid for with attempts.
 */
export async function attemptsSpent(queues: QueueSet, jobs: readonly { queue: QueueName; id: string }[]): Promise<string[]> {
  const spent: string[] = [];
  for (const { queue, id } of jobs) {
    const job = await queues.get(queue).getJob(id);
    if (job && job.attemptsMade > 1) spent.push(`${queue}/${id} ${job.name}: ${job.attemptsMade}`);
  }
  return spent;
}

/** hub_outbox rows by status, and those left ENQUEUED with their job ids. */
export async function outboxVerdict(db: DataSource): Promise<{ byStatus: Record<string, number>; enqueued: { id: string; jobName: string; jobId: string | null }[] }> {
  const rows = await db.getRepository(HubOutbox).find({ select: { id: true, jobName: true, status: true, jobId: true } });
  const byStatus: Record<string, number> = {};
  for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  return { byStatus, enqueued: rows.filter((r) => r.status === 'ENQUEUED').map(({ id, jobName, jobId }) => ({ id, jobName, jobId })) };
}

export interface Probe {
  what: string;
  startedAt: number;
  endedAt: number;
  answer: ApiAnswer;
}

/** Calls each of `calls` every `everyMs` until stopped, keeping every answer with when it was asked. */
export function watchApi(calls: Record<string, () => Promise<ApiAnswer>>, everyMs = 250): { probes: Probe[]; stop(): Promise<void> } {
  const probes: Probe[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(
        Object.entries(calls).map(async ([what, call]) => {
          const startedAt = Date.now();
          const answer = await call();
          probes.push({ what, startedAt, endedAt: Date.now(), answer });
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    probes,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/**
 * How long to wait before breaking a server for `outageMs` so that a minute's cron slots fall in
 * the middle of it; 0 when the outage is long enough to hold one wherever it starts. `leadMs` is
 * the work between this wait and the fault.
 */
export function waitForMinuteSlotMs(outageMs: number, leadMs: number, now = Date.now()): number {
  if (outageMs >= 65_000) return 0;
  let boundary = now - (now % 60_000) + 60_000;
  if (boundary - now < leadMs + 1_000) boundary += 60_000;
  return Math.max(0, boundary - now - leadMs - Math.floor(outageMs / 2));
}

export interface TrackedJob {
  queue: QueueName;
  id: string;
}

/** POST /api/v1/jobs/<name> under an Idempotency-Key: the answer, and the job it names when accepted. */
export async function enqueueOverApi(hub: PrivateHub, name: string, payload: Record<string, unknown>, key: string): Promise<{ answer: ApiAnswer; job: TrackedJob }> {
  const answer = await hub.api('POST', `/api/v1/jobs/${name}`, payload, { 'idempotency-key': key });
  return { answer, job: { queue: queueOfJob(name), id: String(answer.body.id) } };
}

/** enqueueOverApi for a job that must be accepted (202): the job, or an error with the answer. */
export async function enqueueAccepted(hub: PrivateHub, name: string, payload: Record<string, unknown>, key: string): Promise<TrackedJob> {
  const { answer, job } = await enqueueOverApi(hub, name, payload, key);
  if (answer.status !== 202) throw new Error(`${name} (${key}) answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return job;
}

/**
 * Waits until every job completed, `outboxRows` hub_outbox rows are DONE and the three processes
 * are ready; when each of the two first held (epoch ms). Fails with what is still missing.
 */
export async function awaitRecovery(hub: PrivateHub, db: DataSource, jobs: readonly TrackedJob[], outboxRows: number, timeoutMs: number): Promise<{ doneAt: number; readyAt: number }> {
  let doneAt = 0;
  let readyAt = 0;
  const allDone = async (): Promise<boolean> => {
    const states = await jobStates(hub.queues, jobs);
    if (![...states.values()].every((s) => s === 'completed')) return false;
    return (await outboxVerdict(db).catch(() => ({ byStatus: {} as Record<string, number> }))).byStatus.DONE === outboxRows;
  };
  const allReady = async (): Promise<boolean> => (await Promise.all((['web', 'worker', 'clock'] as const).map((role) => hub.readyz(role)))).every((r) => r.status === 200);
  try {
    await until(
      'every job completed and every process ready',
      async () => {
        if (!doneAt && (await allDone())) doneAt = Date.now();
        if (!readyAt && (await allReady())) readyAt = Date.now();
        return doneAt > 0 && readyAt > 0;
      },
      timeoutMs,
      250,
    );
  } catch (err) {
    const pending = [...(await jobStates(hub.queues, jobs))].filter(([, s]) => s !== 'completed');
    const ready = await Promise.all((['web', 'worker', 'clock'] as const).map(async (role) => [role, (await hub.readyz(role)).body]));
    throw new Error(
      `${(err as Error).message}: jobs not completed ${JSON.stringify(pending)}; outbox ${JSON.stringify(await outboxVerdict(db))}; readiness ${JSON.stringify(ready)}\n${hub.tails()}`,
    );
  }
  return { doneAt, readyAt };
}
