import { freePort, startPrivateRedis } from '../support/private-redis';
import { childEnv, testConfig } from '../support/env';
import { spawnBuilt } from '../support/processes';
import { testPrefix } from '../support/queues';
import { startTcpProxy } from '../support/tcp-proxy';
import { until } from '../support/wait';

async function probe(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

/**
 * A process started before MySQL or Redis (a deployment coming up all at once) waits for them,
 * alive and unready, saying what it waits for, and starts once they come: it used to exit 1.
 */
describe('a worker process started before its services', () => {
  const prefix = testPrefix(__filename);

  it('waits for MySQL, alive and unready, then starts when it comes', async () => {
    const direct = testConfig();
    const proxy = await startTcpProxy(direct.mysql.host, direct.mysql.port);
    await proxy.cut();
    const mysqlUrl = new URL(direct.mysql.url);
    mysqlUrl.hostname = '127.0.0.1';
    mysqlUrl.port = String(proxy.port);
    const metricsPort = await freePort();
    const worker = spawnBuilt('workers/worker.main.js', childEnv({ MYSQL_URL: mysqlUrl.toString(), HUB_METRICS_PORT: String(metricsPort), HUB_QUEUES: 'ops', HUB_QUEUE_PREFIX: prefix }));
    try {
      await worker.waitFor(new RegExp(`"waitingFor":"MySQL at 127.0.0.1:${proxy.port}".*"msg":"waiting for MySQL`));
      await worker.waitFor(/"retryInMs":2000/);
      expect(worker.child.exitCode).toBeNull();
      expect(await probe(metricsPort, '/healthz')).toMatchObject({ status: 200 });
      const ready = await probe(metricsPort, '/readyz');
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body)).toEqual({ status: 'starting', waitingFor: `MySQL at 127.0.0.1:${proxy.port}` });

      await proxy.restore();
      await worker.waitFor(/"msg":"workers started"/, 30_000);
      await until('ready', async () => (await probe(metricsPort, '/readyz').catch(() => ({ status: 0 }))).status === 200, 10_000, 100);
    } finally {
      worker.child.kill('SIGTERM');
      await proxy.close();
    }
    expect(await worker.exited()).toBe(0);
  }, 60_000);

  it('waits for Redis the same way', async () => {
    const redis = await startPrivateRedis();
    await redis.stop();
    const metricsPort = await freePort();
    const worker = spawnBuilt('workers/worker.main.js', childEnv({ REDIS_URL: redis.url, HUB_METRICS_PORT: String(metricsPort), HUB_QUEUES: 'ops', HUB_QUEUE_PREFIX: prefix }));
    try {
      await worker.waitFor(new RegExp(`"waitingFor":"Redis at 127.0.0.1:${redis.port}"`), 30_000);
      const ready = await probe(metricsPort, '/readyz');
      expect(JSON.parse(ready.body)).toEqual({ status: 'starting', waitingFor: `Redis at 127.0.0.1:${redis.port}` });
      expect(worker.stdout()).not.toContain('password');
      await redis.start();
      await worker.waitFor(/"msg":"workers started"/, 30_000);
    } finally {
      worker.child.kill('SIGTERM');
    }
    expect(await worker.exited()).toBe(0);
    await redis.close();
  }, 60_000);
});
