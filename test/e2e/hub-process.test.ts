import type { DataSource } from 'typeorm';
import { SmsCodeTemp } from '../../entities/customer-service/sms-code-temp.entity';
import { clearTables, openTestDataSource } from '../support/db';
import { childEnv, testConfig } from '../support/env';
import { spawnBuilt, type HubProcess } from '../support/processes';
import { deletePrefix, testPrefix, testRedis } from '../support/queues';
import { until } from '../support/wait';
import { closeRedis } from '../../lib/redis';
import { beijingSlot } from '../../lib/time';

const TOKEN = 'e2e-token-0123456789abcdef';

function listeningPort(hub: HubProcess, msg = 'web listening'): number {
  const match = new RegExp(`"port":(\\d+)[^\\n]*"msg":"${msg}"`).exec(hub.stdout());
  if (!match?.[1]) throw new Error(`no port in:\n${hub.stdout()}`);
  return Number(match[1]);
}

async function waitForState(base: string, path: string, state: string): Promise<Record<string, unknown>> {
  let body: Record<string, unknown> = {};
  const fetchState = async (): Promise<boolean> => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    body = (await res.json()) as Record<string, unknown>;
    return body.state === state;
  };
  await until(`${path} to reach ${state}`, fetchState, 20_000, 100);
  return body;
}

describe('the whole hub in one process (npm start: dist/server/hub.main.js)', () => {
  const prefix = testPrefix(__filename);
  let db: DataSource;

  beforeAll(async () => {
    db = await openTestDataSource(testConfig());
    await clearTables(db, [SmsCodeTemp]);
  });
  afterAll(async () => {
    const redis = await testRedis();
    await deletePrefix(redis, prefix);
    await closeRedis(redis);
    await clearTables(db, [SmsCodeTemp]);
    await db.destroy();
  });

  it('serves health and the dashboard, runs a job enqueued over HTTP, and stops cleanly on SIGTERM', async () => {
    const past = new Date(Date.now() - 3_600_000);
    await db.getRepository(SmsCodeTemp).insert([
      { phone: '13700000011', code: '111111', expireTime: past },
      { phone: '13700000012', code: '222222', expireTime: new Date(Date.now() + 3_600_000) },
    ]);
    const hub = spawnBuilt(
      'server/hub.main.js',
      childEnv({ HUB_QUEUE_PREFIX: prefix, HUB_API_TOKENS: `e2e:${TOKEN}:ops`, HUB_MIGRATE_ON_START: 'true', BOARD_USERNAME: 'admin', BOARD_PASSWORD: 'e2e-board-pass' }),
    );
    try {
      await hub.waitFor(/"msg":"web listening"/, 20_000);
      const base = `http://127.0.0.1:${listeningPort(hub)}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const dashboard = await fetch(`${base}/admin/queues`, { headers: { authorization: `Basic ${Buffer.from('admin:e2e-board-pass').toString('base64')}` } });
      expect(dashboard.status).toBe(200);
      expect(await dashboard.text()).toMatch(/<html/i);

      const enqueued = await fetch(`${base}/api/v1/jobs/sms-code-cleanup`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': 'e2e-cleanup-1' },
        body: JSON.stringify({ batchSize: 100 }),
      });
      expect(enqueued.status).toBe(202);
      const { id } = (await enqueued.json()) as { id: string };
      const ours = await waitForState(base, `/api/v1/jobs/sms-code-cleanup/${id}`, 'completed');
      // The embedded clock enqueued this hour's slot at start: between them, the one expired row went once.
      const slot = await waitForState(base, `/api/v1/jobs/sms-code-cleanup/sms-code-cleanup@${beijingSlot(new Date()).slice(0, 10)}00`, 'completed');
      const deleted = [ours, slot].map((job) => (job.result as { result: { deleted: number } }).result.deleted);
      expect(deleted.reduce((a, b) => a + b)).toBe(1);
      expect(ours).toMatchObject({ result: { status: 'done' }, attemptsMade: 1 });
      expect((await db.getRepository(SmsCodeTemp).find()).map((r) => r.phone)).toEqual(['13700000012']);

      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^jobhub_jobs_completed_total\{job="sms-code-cleanup",queue="ops",status="done"\} \d+$/m);
      expect(metrics).toMatch(/^jobhub_process_cpu_seconds_total /m);
      // The combined process runs the clock, which reports queue depth; counters start at 0.
      expect(metrics).toMatch(/^jobhub_queue_jobs\{queue="ops",state="completed"\} \d+$/m);
      expect(metrics).toMatch(/^jobhub_jobs_failed_total\{job="sms-send",queue="sms"\} 0$/m);
    } finally {
      hub.child.kill('SIGTERM');
    }
    expect(await hub.exited()).toBe(0);
    expect(hub.stdout()).toContain('"msg":"shut down cleanly"');
  });

  it('runs as separate web and worker processes: the web enqueues, the worker runs, each serves its metrics, neither the queue gauges', async () => {
    const env = childEnv({ HUB_QUEUE_PREFIX: prefix, HUB_API_TOKENS: `e2e:${TOKEN}:ops` });
    const web = spawnBuilt('server/web.main.js', env);
    const worker = spawnBuilt('workers/worker.main.js', { ...env, HUB_QUEUES: 'ops' });
    try {
      await web.waitFor(/"msg":"web listening"/, 20_000);
      await worker.waitFor(/"msg":"metrics listening"/, 20_000);
      const base = `http://127.0.0.1:${listeningPort(web)}`;
      const enqueued = await fetch(`${base}/api/v1/jobs/sms-code-cleanup`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(enqueued.status).toBe(202);
      const { id } = (await enqueued.json()) as { id: string };
      await waitForState(base, `/api/v1/jobs/sms-code-cleanup/${id}`, 'completed');

      const workerBase = `http://127.0.0.1:${listeningPort(worker, 'metrics listening')}`;
      expect((await fetch(`${workerBase}/readyz`)).status).toBe(200);
      const workerMetrics = await (await fetch(`${workerBase}/metrics`)).text();
      expect(workerMetrics).toMatch(/^jobhub_jobs_completed_total\{job="sms-code-cleanup",queue="ops",status="done"\} 1$/m);
      expect(workerMetrics).toMatch(/^jobhub_jobs_failed_total\{job="sms-code-cleanup",queue="ops"\} 0$/m);
      expect(workerMetrics).not.toMatch(/jobhub_queue_jobs/);
      // Queue depth is the clock's to report, once per deployment, not every web replica's.
      const webMetrics = await (await fetch(`${base}/metrics`)).text();
      expect(webMetrics).not.toMatch(/jobhub_queue_jobs/);
      expect(webMetrics).toMatch(/^jobhub_alerts_total\{kind="refund-failed"\} 0$/m);
    } finally {
      web.child.kill('SIGTERM');
      worker.child.kill('SIGTERM');
    }
    expect(await web.exited()).toBe(0);
    expect(await worker.exited()).toBe(0);
  });
});
