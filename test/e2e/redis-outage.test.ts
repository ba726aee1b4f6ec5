import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { clearTables, openTestDataSource } from '../support/db';
import { childEnv, testConfig } from '../support/env';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis';
import { spawnBuilt } from '../support/processes';
import { until } from '../support/wait';

const TOKEN = 'outage-token-0123456789abcdef';
const OUTAGE_MS = 30_000;
const auth = { authorization: `Bearer ${TOKEN}` };

/**
 * `npm start` (dist/server/hub.main.js) on a Redis of the test's own that dies and stays away for
 * 30 s, then comes back with its append-only file: the same process carries on, nothing is lost.
 */
describe('a Redis restart with 30 s of outage', () => {
  let redis: PrivateRedis;
  let db: DataSource;

  beforeAll(async () => {
    redis = await startPrivateRedis({ durable: true });
    db = await openTestDataSource(testConfig());
    await clearTables(db, [HubCanary]);
  });
  afterAll(async () => {
    await redis.close();
    await clearTables(db, [HubCanary]);
    await db.destroy();
  });

  it('answers 503 meanwhile, then resumes without a restart and loses no job', async () => {
    const hub = spawnBuilt('server/hub.main.js', childEnv({ REDIS_URL: redis.url, HUB_API_TOKENS: `outage:${TOKEN}:ops`, HUB_JOB_LOCK_MS: '3000' }));
    try {
      await hub.waitFor(/"msg":"web listening"/, 20_000);
      const port = /"port":(\d+)[^\n]*"msg":"web listening"/.exec(hub.stdout())?.[1];
      const base = `http://127.0.0.1:${port}`;
      const enqueue = (key: string, holdMs = 0): Promise<Response> =>
        fetch(`${base}/api/v1/jobs/hub-canary`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ key, holdMs }) });
      const jobState = async (id: string): Promise<{ state: string; progress: unknown }> =>
        (await (await fetch(`${base}/api/v1/jobs/hub-canary/${id}`, { headers: auth })).json()) as { state: string; progress: unknown };
      const rows = (): Promise<string[]> => db.getRepository(HubCanary).find({ order: { canaryKey: 'ASC' } }).then((r) => r.map((x) => x.canaryKey));

      // Some jobs are running and some waiting when Redis dies.
      const ids: string[] = [];
      for (const key of ['in-flight-1', 'in-flight-2', 'in-flight-3', 'in-flight-4', 'in-flight-5', 'in-flight-6']) {
        const res = await enqueue(key, 4_000);
        expect(res.status).toBe(202);
        ids.push(((await res.json()) as { id: string }).id);
      }
      await until('a canary is holding', async () => (await jobState(ids[0] as string)).progress !== 0, 15_000);
      await redis.stop();

      const during = await enqueue('during-outage');
      expect(during.status).toBe(503);
      expect(during.headers.get('retry-after')).toBe('5');
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: Record<string, { ok: boolean }> }).checks.redis?.ok).toBe(false);
      await sleep(OUTAGE_MS);
      expect(hub.child.exitCode).toBeNull();

      await redis.start();
      await until('every job enqueued before the outage ran', async () => (await rows()).length === ids.length, 60_000, 250);
      const states = async (): Promise<string> => (await Promise.all(ids.map(async (id) => `${id}:${(await jobState(id)).state}`))).join(' ');
      await until('every job completed', async () => (await states()).split(' ').every((s) => s.endsWith(':completed')), 45_000, 250).catch(async (err: Error) => {
        throw new Error(`${err.message}: ${await states()}\n${hub.stdout().slice(-6_000)}`);
      });
      expect(await rows()).toEqual(['in-flight-1', 'in-flight-2', 'in-flight-3', 'in-flight-4', 'in-flight-5', 'in-flight-6']);

      const after = await enqueue('after-outage');
      expect(after.status).toBe(202);
      const afterId = ((await after.json()) as { id: string }).id;
      await until('the job enqueued after the outage completed', async () => (await jobState(afterId)).state === 'completed', 20_000, 100);
      await until('ready again', async () => (await fetch(`${base}/readyz`)).status === 200, 15_000, 250);
    } finally {
      hub.child.kill('SIGTERM');
    }
    expect(await hub.exited()).toBe(0);
    // One process throughout: it never exited and was never restarted.
    expect(hub.stdout().match(/"msg":"web listening"/g)).toHaveLength(1);
  }, 150_000);
});
