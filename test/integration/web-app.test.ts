import type { QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { JOBS } from '../../jobs';
import { buildRegistry } from '../../jobs/define-job';
import { closeRedis, createRedis, waitForRedis } from '../../lib/redis';
import { buildApp } from '../../server/app';
import { QueueSet } from '../../workers/queues';
import { openTestDataSource } from '../support/db';
import { TEST_MYSQL_SERVER, testConfig, workerDatabase } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis';
import { testQueueEvents } from '../support/queues';
import { track } from '../support/resources';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { basicAuth, BOARD_ADMIN, BOARD_VIEWER, greetJob, refuseJob } from '../support/board';

const TOKEN = 'ops-token-0123456789abcdef';
const ADMIN = BOARD_ADMIN;
const VIEWER = BOARD_VIEWER;
const basic = basicAuth;

const registry = buildRegistry([...JOBS, greetJob, refuseJob]);

const webConfig = (overrides: Record<string, string> = {}) =>
  testConfig({
    HUB_API_TOKENS: `ops:${TOKEN}`,
    BOARD_USERNAME: ADMIN.username,
    BOARD_PASSWORD: ADMIN.password,
    BOARD_VIEWER_USERNAME: VIEWER.username,
    BOARD_VIEWER_PASSWORD: VIEWER.password,
    ...overrides,
  });

describe('the web app: dashboard, health and metrics', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  let events: QueueEvents;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { registry });
    app = await buildApp({ config: webConfig({ HUB_QUEUE_PREFIX: hub.prefix }), log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
    events = await testQueueEvents('messages', hub.prefix);
  });
  afterAll(async () => {
    await events.close();
    await app.close();
    await hub.close();
  });

  /** Two failed jobs and one waiting job on the messages queue. */
  async function seedJobs(): Promise<{ failed: string[]; waiting: string }> {
    const queue = hub.queues.get('messages');
    await queue.obliterate({ force: true });
    const failed = await Promise.all(['A', 'B'].map((orderNo) => hub.enqueue(refuseJob, { orderNo })));
    const pool = hub.startWorkers(['messages']);
    try {
      for (const { id } of failed) {
        await expect((await queue.getJob(id))?.waitUntilFinished(events, 10_000)).rejects.toThrow(/NOT_ALLOWED/);
      }
    } finally {
      await pool.close();
    }
    const waiting = await hub.enqueue(greetJob, { memberId: '1' }, { delay: 3_600_000 });
    return { failed: failed.map((f) => f.id), waiting: waiting.id };
  }

  const board = (method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, headers: Record<string, string>) =>
    app.inject({ method, url: `/admin/queues${path}`, headers: { host: 'hub.example:3000', ...headers } });

  it('asks for credentials: 401 without them or with a wrong password', async () => {
    const none = await board('GET', '', {});
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Basic realm=/);
    expect((await board('GET', '/api/queues', { authorization: basic({ ...ADMIN, password: 'wrong' }) })).statusCode).toBe(401);
    expect((await board('GET', '/api/queues', { authorization: `Bearer ${TOKEN}` })).statusCode).toBe(401);
  });

  it('shows every queue to the viewer, and refuses the viewer every write with 403', async () => {
    const { failed, waiting } = await seedJobs();
    const page = await board('GET', '', { authorization: basic(VIEWER) });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    const list = await board('GET', '/api/queues', { authorization: basic(VIEWER) });
    expect(list.statusCode).toBe(200);
    const names = list.json<{ queues: { name: string }[] }>().queues.map((q) => q.name);
    expect(names).toEqual(expect.arrayContaining(['payments', 'refunds', 'messages', 'sms', 'sync']));

    const sameOrigin = { authorization: basic(VIEWER), origin: 'http://hub.example:3000' };
    for (const path of ['/api/queues/messages/retry/failed', '/api/queues/messages/clean/failed', `/api/queues/messages/${failed[0]}/retry`, `/api/queues/messages/${waiting}/clean`]) {
      const res = await board('PUT', path, sameOrigin);
      expect({ path, status: res.statusCode }).toEqual({ path, status: 403 });
    }
    const queue = hub.queues.get('messages');
    expect(await queue.getJobCountByTypes('failed')).toBe(2);
    expect(await queue.getJob(waiting)).toBeDefined();
  });

  it('refuses an admin write without a same-origin Origin, and lets a same-origin one act', async () => {
    const { failed, waiting } = await seedJobs();
    const queue = hub.queues.get('messages');
    for (const origin of [undefined, 'https://evil.example', 'http://hub.example:3001', 'not a url']) {
      const headers: Record<string, string> = { authorization: basic(ADMIN) };
      if (origin) headers.origin = origin;
      const res = await board('PUT', '/api/queues/messages/retry/failed', headers);
      expect({ origin, status: res.statusCode }).toEqual({ origin, status: 403 });
    }
    expect(await queue.getJobCountByTypes('failed')).toBe(2);

    const admin = { authorization: basic(ADMIN), origin: 'http://hub.example:3000' };
    expect((await board('PUT', `/api/queues/messages/${waiting}/clean`, admin)).statusCode).toBeLessThan(300);
    expect(await queue.getJob(waiting)).toBeUndefined();
    expect((await board('PUT', `/api/queues/messages/${failed[0]}/retry`, admin)).statusCode).toBeLessThan(300);
    expect(await (await queue.getJob(failed[0] ?? ''))?.getState()).toBe('waiting');
    expect((await board('PUT', '/api/queues/messages/retry/failed', admin)).statusCode).toBeLessThan(300);
    expect(await queue.getJobCountByTypes('failed')).toBe(0);
    expect(await queue.getJobCountByTypes('wait')).toBe(2);
    expect(hub.logText()).toMatch(/"board":"admin".*"msg":"dashboard write"/);
  });

  it('serves /healthz, /readyz and /metrics with job counters, and no queue depth (the clock reports it)', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: 'ready', checks: { redis: { ok: true }, mysql: { ok: true } } });

    const queue = hub.queues.get('messages');
    await queue.obliterate({ force: true });
    const { id } = await hub.enqueue(greetJob, { memberId: '9' });
    const pool = hub.startWorkers(['messages']);
    try {
      await (await queue.getJob(id))?.waitUntilFinished(events, 10_000);
    } finally {
      await pool.close();
    }
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.body).toMatch(/^jobhub_jobs_completed_total\{job="test-greet",queue="messages",status="done"\} 1$/m);
    expect(metrics.body).toMatch(/^jobhub_job_duration_seconds_count\{job="test-greet",queue="messages"\} 1$/m);
    expect(metrics.body).toMatch(/^jobhub_job_wait_seconds_count\{job="test-greet",queue="messages"\} 1$/m);
    expect(metrics.body).not.toMatch(/jobhub_queue_/);
  });
});

describe('the web app when a service goes away', () => {
  let privateRedis: PrivateRedis;
  let proxy: TcpProxy;
  let redis: Redis;
  let db: DataSource;
  let queues: QueueSet;
  let app: FastifyInstance;
  const hub = { log: undefined as unknown as TestHub['log'] };

  beforeAll(async () => {
    privateRedis = await startPrivateRedis();
    const mysql = new URL(TEST_MYSQL_SERVER);
    proxy = await startTcpProxy(mysql.hostname, Number(mysql.port || 3306));
    const config = webConfig({
      REDIS_URL: privateRedis.url,
      MYSQL_URL: `${TEST_MYSQL_SERVER.replace(/:\d+$/, '')}:${proxy.port}/${workerDatabase()}`,
      HUB_QUEUE_PREFIX: 'jobhub-outage',
    });
    redis = track({ kind: 'redis', value: createRedis(privateRedis.url, 'producer') });
    await waitForRedis(redis);
    db = await openTestDataSource(config);
    queues = new QueueSet(redis, config.redis.queuePrefix);
    const { captureLogger } = await import('../support/logs');
    hub.log = captureLogger().log;
    app = await buildApp({ config, log: hub.log, db, redis, queues, registry });
  });
  afterAll(async () => {
    await app.close();
    await queues.close();
    await closeRedis(redis);
    await db.destroy();
    await proxy.close();
    await privateRedis.close();
  });

  const post = () =>
    app.inject({ method: 'POST', url: '/api/v1/jobs/test-greet', headers: { authorization: `Bearer ${TOKEN}` }, payload: { memberId: '5' } });

  it('answers 503 with Retry-After while Redis is down, 202 again once it is back; /readyz says why meanwhile', async () => {
    expect((await post()).statusCode).toBe(202);
    await privateRedis.stop();
    const down = await post();
    expect(down.statusCode).toBe(503);
    expect(down.headers['retry-after']).toBe('5');
    expect(down.json()).toMatchObject({ error: 'queue_unavailable' });
    const notReady = await app.inject({ method: 'GET', url: '/readyz' });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json()).toMatchObject({ status: 'not ready', checks: { redis: { ok: false }, mysql: { ok: true } } });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

    await privateRedis.start();
    await waitForRedis(redis, 15_000);
    expect((await post()).statusCode).toBe(202);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('fails /readyz while MySQL is unreachable, and recovers when it is back', async () => {
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    await proxy.cut();
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'not ready', checks: { mysql: { ok: false, error: expect.any(String) }, redis: { ok: true } } });
    await proxy.restore();
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});
