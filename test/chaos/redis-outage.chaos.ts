import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from 'bullmq';
import type { DataSource } from 'typeorm';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { waitForRedis } from '../../lib/redis';
import { byScale, recordRecovery } from '../support/chaos';
import { clearTables, openTestDataSource } from '../support/db';
import { childEnv, testConfig } from '../support/env';
import { openPrivateQueueStore, type PrivateQueueStore } from '../support/private-redis';
import { spawnBuilt, type HubProcess } from '../support/processes';
import { testPrefix } from '../support/queues';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { until } from '../support/wait';

const SCENARIO = 'redis-outage';
const TOKEN = 'outage-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };
/** How long Redis stays unreachable in the second fault. */
const OUTAGE_MS = byScale(10_000, 60_000);
/** Canaries in flight at each fault: ops runs two at once, so some are running and some waiting. */
const JOBS = byScale(4, 6);
const HOLD_MS = byScale(2_000, 4_000);

interface Readiness {
  status: number;
  redisOk: boolean | undefined;
}

/**
 * `npm start` (dist/server/hub.main.js), one process throughout, on a durable Redis of the test's
 * own reached through a proxy: Redis killed and restarted from its append-only file, then cut off
 * for a while. Jobs enqueued before either fault complete, each with its effect once.
 */
describe('Redis killed, restarted and unreachable under one hub process', () => {
  const prefix = testPrefix(__filename);
  let store: PrivateQueueStore;
  /** What the hub connects to: cutting it makes Redis unreachable without touching its data. */
  let proxy: TcpProxy;
  let db: DataSource;
  let hub: HubProcess;
  let base = '';

  beforeAll(async () => {
    store = await openPrivateQueueStore(prefix, { durable: true });
    proxy = await startTcpProxy('127.0.0.1', store.server.port);
    db = await openTestDataSource(testConfig());
    await clearTables(db, [HubCanary]);
    hub = spawnBuilt(
      'server/hub.main.js',
      childEnv({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, HUB_QUEUE_PREFIX: prefix, HUB_API_TOKENS: `outage:${TOKEN}:ops`, HUB_JOB_LOCK_MS: '3000' }),
    );
    await hub.waitFor(/"msg":"web listening"/, 30_000);
    base = `http://127.0.0.1:${/"port":(\d+)[^\n]*"msg":"web listening"/.exec(hub.stdout())?.[1]}`;
  }, 60_000);
  afterAll(async () => {
    if (hub.child.exitCode === null && hub.child.signalCode === null) {
      hub.child.kill('SIGTERM');
      await hub.exited();
    }
    await proxy.close();
    await store.close();
    await clearTables(db, [HubCanary]);
    await db.destroy();
  });

  const enqueue = (key: string, holdMs = 0): Promise<Response> =>
    fetch(`${base}/api/v1/jobs/hub-canary`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ key, holdMs }) });
  const readiness = async (): Promise<Readiness> => {
    const res = await fetch(`${base}/readyz`);
    const body = (await res.json()) as { checks?: Record<string, { ok: boolean }> };
    return { status: res.status, redisOk: body.checks?.redis?.ok };
  };
  /** Read from Redis directly, not through the proxy: the test sees what Redis holds whatever the hub sees. */
  const job = (id: string): Promise<Job | undefined> => store.queues.get('ops').getJob(id);
  const rows = (keys: string[]): Promise<string[]> =>
    db.getRepository(HubCanary).find({ order: { canaryKey: 'ASC' } }).then((r) => r.map((x) => x.canaryKey).filter((k) => keys.includes(k)));
  /** The effect, from the hub's own log: one "canary written" per key, however often the job ran. */
  const writes = (key: string): number => hub.stdout().split('\n').filter((l) => l.includes('"msg":"canary written"') && l.includes(`"canary":"${key}"`)).length;
  /** Completed events of the queue's stream, per job id: BullMQ's ledger of completions. */
  const completions = async (id: string): Promise<number> => {
    const entries = await store.producer.xrange(`${prefix}:ops:events`, '-', '+');
    return entries.filter(([, fields]) => fields.join(' ').includes(`event completed`) && fields.includes(id)).length;
  };

  /** Enqueues canaries over the API and waits until the first is running. */
  const enqueueCanaries = async (tag: string): Promise<{ keys: string[]; ids: string[] }> => {
    const keys = Array.from({ length: JOBS }, (_, i) => `${tag}-${i + 1}`);
    const ids: string[] = [];
    await until('the hub is ready', async () => (await readiness()).status === 200, 15_000, 100);
    for (const key of keys) {
      const res = await enqueue(key, HOLD_MS);
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { id: string }).id);
    }
    await until('a canary is holding', async () => ((await job(ids[0] as string))?.progress ?? 0) !== 0, 15_000);
    return { keys, ids };
  };

  /** Enqueues are refused with Retry-After and readiness fails while Redis is away. */
  const expectRefusals = async (): Promise<void> => {
    await until('readiness sees Redis gone', async () => (await readiness()).status === 503, 10_000, 100);
    expect((await readiness()).redisOk).toBe(false);
    const during = await enqueue('during-outage');
    expect(during.status).toBe(503);
    expect(during.headers.get('retry-after')).toBe('5');
  };

  /**
   * From Redis's return until the hub is ready again and one of the jobs completed (both), then
   * every job completed: returns the first of those times.
   */
  const recover = async (ids: string[], backAt: number): Promise<number> => {
    const firstDone = async (): Promise<number> => {
      const finished = await Promise.all(ids.map(async (id) => (await job(id))?.finishedOn ?? 0));
      return Math.min(...finished.filter((t) => t >= backAt).concat(Number.POSITIVE_INFINITY));
    };
    const readyAt = async (): Promise<number> => {
      await until('ready again', async () => (await readiness()).status === 200, 60_000, 100);
      return Date.now();
    };
    const doneAt = async (): Promise<number> => {
      await until('a job completed after the return', async () => Number.isFinite(await firstDone()), 60_000, 100);
      return firstDone();
    };
    const recoveryMs = Math.max(...(await Promise.all([readyAt(), doneAt()]))) - backAt;
    const states = async (): Promise<string> => (await Promise.all(ids.map(async (id) => `${id}:${await store.queues.get('ops').getJobState(id)}`))).join(' ');
    await until('every job completed', async () => (await states()).split(' ').every((s) => s.endsWith(':completed')), 60_000, 250).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${await states()}\n${hub.stdout().slice(-6_000)}`);
    });
    return recoveryMs;
  };

  /** Each job completed once and wrote its row once; the process never restarted. */
  const expectOnce = async (keys: string[], ids: string[]): Promise<string> => {
    expect(await rows(keys)).toEqual([...keys].sort());
    for (const key of keys) expect(writes(key)).toBe(1);
    for (const id of ids) expect(await completions(id)).toBe(1);
    expect(hub.child.exitCode).toBeNull();
    expect(hub.stdout().match(/"msg":"web listening"/g)).toHaveLength(1);
    const reruns = (await Promise.all(ids.map(async (id) => (await job(id))?.returnvalue as { status?: string } | undefined))).filter((r) => r?.status === 'skipped').length;
    return `lost 0 of ${ids.length}, effects twice 0, completed twice 0, reruns that found the work done ${reruns}`;
  };

  it('Redis killed and restarted with its append-only file: jobs enqueued before complete, none twice', async () => {
    const { keys, ids } = await enqueueCanaries('restart');
    await store.server.stop();
    await expectRefusals();
    await store.server.start();
    const backAt = Date.now();
    // The test's own connection backs off like the hub's: wait for it before reading.
    await waitForRedis(store.producer, 15_000);

    const recoveryMs = await recover(ids, backAt);
    const detail = await expectOnce(keys, ids);
    recordRecovery({ scenario: SCENARIO, fault: 'Redis SIGKILLed, restarted from its AOF', recoveryMs, detail });
  }, byScale(90_000, 180_000));

  it(`Redis unreachable for ${OUTAGE_MS / 1000} s: 503 meanwhile, then the same process resumes and every job completes once`, async () => {
    const { keys, ids } = await enqueueCanaries('unreachable');
    await proxy.cut();
    await expectRefusals();
    // Still refusing, and still alive, however long the outage lasts.
    for (const end = Date.now() + OUTAGE_MS; Date.now() < end; await sleep(Math.min(2_000, Math.max(0, end - Date.now())))) {
      expect(hub.child.exitCode).toBeNull();
      expect((await enqueue('during-outage')).status).toBe(503);
    }
    await proxy.restore();
    const backAt = Date.now();

    const recoveryMs = await recover(ids, backAt);
    const detail = await expectOnce(keys, ids);

    const after = await enqueue('after-outage');
    expect(after.status).toBe(202);
    const afterId = ((await after.json()) as { id: string }).id;
    await until('the job enqueued after the outage completed', async () => (await store.queues.get('ops').getJobState(afterId)) === 'completed', 20_000, 100);
    // Nothing enqueued during either outage reached the queue.
    expect(await rows(['during-outage'])).toEqual([]);
    expect(await store.queues.get('ops').getJobCounts('active', 'wait', 'delayed', 'failed', 'prioritized')).toEqual({
      active: 0,
      wait: 0,
      delayed: 0,
      failed: 0,
      prioritized: 0,
    });

    hub.child.kill('SIGTERM');
    expect(await hub.exited()).toBe(0);
    // One process throughout: it never exited and was never restarted.
    expect(hub.stdout().match(/"msg":"web listening"/g)).toHaveLength(1);
    recordRecovery({ scenario: SCENARIO, fault: `Redis unreachable for ${OUTAGE_MS / 1000} s`, recoveryMs, detail });
  }, byScale(90_000, 240_000));
});
