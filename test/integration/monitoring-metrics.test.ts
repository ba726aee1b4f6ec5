import { Worker } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { HubOutbox } from '../../entities/hub/hub-outbox.entity';
import { JOBS } from '../../jobs';
import { buildRegistry } from '../../jobs/define-job';
import { smsCircuitKey } from '../../jobs/messaging/sms-chain';
import { createCircuitBreaker } from '../../lib/circuit-breaker';
import { connectionChecks } from '../../lib/health';
import { metricsRegistry } from '../../lib/metrics';
import { buildApp } from '../../server/app';
import { startClockRole } from '../../workers/clock';
import { initialiseMetrics } from '../../workers/initialise-metrics';
import { openRuntime, type Role, type Runtime } from '../../workers/runtime';
import { greetJob } from '../support/board';
import { clearTables, openTestDataSource } from '../support/db';
import { TEST_REDIS_URL } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { testRedis } from '../support/queues';
import { track } from '../support/resources';
import { until } from '../support/wait';

const registry = buildRegistry([...JOBS, greetJob]);

/** One sample's value in Prometheus text, or undefined when the series is absent. */
function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const scrape = (): Promise<string> => metricsRegistry.metrics();
const value = async (series: string): Promise<number | undefined> => sample(await scrape(), series);

describe('metrics the alerts read', () => {
  let hub: TestHub;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { registry });
  });
  afterAll(async () => {
    await hub.close();
  });

  describe('read at scrape time by the clock', () => {
    let runtime: Runtime;
    let clock: Role;
    beforeAll(async () => {
      runtime = await openRuntime(hub.config, hub.log);
      clock = startClockRole(runtime, hub.config, hub.log, []);
    });
    afterAll(async () => {
      await clock.close();
      await runtime.close();
    });

    it('counts the workers connected to each queue, from every process', async () => {
      expect(await value('jobhub_queue_workers{queue="messages"}')).toBe(0);
      const pool = hub.startWorkers(['messages']);
      try {
        await until('the worker connected', async () => (await value('jobhub_queue_workers{queue="messages"}')) === 1);
        expect(await value('jobhub_queue_workers{queue="ops"}')).toBe(0);
      } finally {
        await pool.close();
      }
      expect(await value('jobhub_queue_workers{queue="messages"}')).toBe(0);
    });

    it('ages the oldest due PENDING outbox row from its insert or its run_at, ignoring rows not yet due or already enqueued', async () => {
      await clearTables(hub.db, [HubOutbox]);
      expect(await value('jobhub_outbox_oldest_pending_seconds')).toBe(0);
      const ago = (s: number): Date => new Date(Date.now() - s * 1_000);
      const row = (status: HubOutbox['status'], createdTime: Date, runAt: Date | null) => ({ jobName: 'test-greet', payload: {}, status, createdTime, updatedTime: createdTime, runAt });
      await hub.db.getRepository(HubOutbox).insert([
        row('ENQUEUED', ago(3_600), null),
        row('PENDING', ago(3_000), ago(-600)), // scheduled ten minutes ahead: not late
        row('PENDING', ago(90), null),
      ]);
      const atOnce = await value('jobhub_outbox_oldest_pending_seconds');
      expect(atOnce).toBeGreaterThanOrEqual(90);
      expect(atOnce).toBeLessThan(600);
      // Created long ago, due only since its run_at.
      await hub.db.getRepository(HubOutbox).insert([row('PENDING', ago(7_200), ago(300))]);
      const scheduled = await value('jobhub_outbox_oldest_pending_seconds');
      expect(scheduled).toBeGreaterThanOrEqual(300);
      expect(scheduled).toBeLessThan(3_000);
      await clearTables(hub.db, [HubOutbox]);
    });

    it('shows an SMS circuit open while workers skip the provider, without taking the half-open probe', async () => {
      const key = smsCircuitKey(hub.queues.keys, 'aliyun');
      await hub.redis.del(key);
      const circuit = (now: () => Date) => createCircuitBreaker({ redis: hub.redis, key, failureThreshold: 1, openMs: 30_000, now });
      expect(await value('jobhub_sms_circuit_open{provider="aliyun"}')).toBe(0);

      await circuit(() => new Date()).recordFailure();
      expect(await value('jobhub_sms_circuit_open{provider="aliyun"}')).toBe(1);
      expect(await value('jobhub_sms_circuit_open{provider="tencent"}')).toBe(0);

      // Opened a minute ago for 30 s: half-open, the next caller is the probe.
      await hub.redis.del(key);
      await circuit(() => new Date(Date.now() - 60_000)).recordFailure();
      expect(await value('jobhub_sms_circuit_open{provider="aliyun"}')).toBe(0);
      expect(await value('jobhub_sms_circuit_open{provider="aliyun"}')).toBe(0);
      expect(await circuit(() => new Date()).state()).toBe('closed'); // the scrapes left the probe to a caller
      expect(await value('jobhub_sms_circuit_open{provider="aliyun"}')).toBe(1); // others skip while it runs
      await hub.redis.del(key);
    });
  });

  it('counts a job found stalled once, in the queue it stalled in, from 0', async () => {
    initialiseMetrics({ config: hub.config, enqueue: hub.enqueue, registry });
    expect(await value('jobhub_jobs_stalled_total{queue="reconcile"}')).toBe(0);
    const before = (await value('jobhub_jobs_stalled_total{queue="messages"}')) ?? Number.NaN;
    await hub.queues.get('messages').obliterate({ force: true });
    const job = await hub.enqueue(greetJob, { memberId: 'stalls' });
    // A worker takes the job and dies with it: nothing renews its lock.
    const dead = track({ kind: 'worker', value: new Worker('messages', null, { connection: { url: TEST_REDIS_URL }, prefix: hub.prefix, lockDuration: 1_000, autorun: false }) });
    expect((await dead.getNextJob('dead-worker'))?.id).toBe(job.id);
    await dead.close(true);

    const pool = hub.startWorkers(['messages'], { lockMs: 1_000 });
    try {
      await until('the stalled job ran again', async () => (await hub.queues.get('messages').getJob(job.id))?.finishedOn !== undefined);
    } finally {
      await pool.close();
    }
    expect(await value('jobhub_jobs_stalled_total{queue="messages"}')).toBe(before + 1);
  });

  describe('dependency gauges, from the checks /readyz runs', () => {
    let app: FastifyInstance | undefined;
    afterEach(async () => {
      await app?.close();
      app = undefined;
    });
    const metricsOf = async (a: FastifyInstance): Promise<string> => (await a.inject({ method: 'GET', url: '/metrics' })).body;

    it('reads 1 for a Redis and a MySQL that answer', async () => {
      app = await buildApp({ config: hub.config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
      const body = await metricsOf(app);
      expect(sample(body, 'jobhub_dependency_up{dependency="redis"}')).toBe(1);
      expect(sample(body, 'jobhub_dependency_up{dependency="mysql"}')).toBe(1);
    });

    it('reads 0 for the dependency /readyz finds down, and 1 for the other', async () => {
      const redis = await testRedis();
      const db = await openTestDataSource(hub.config);
      app = await buildApp({ config: hub.config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry, readiness: connectionChecks(db, redis) });
      redis.disconnect();
      let body = await metricsOf(app);
      expect(sample(body, 'jobhub_dependency_up{dependency="redis"}')).toBe(0);
      expect(sample(body, 'jobhub_dependency_up{dependency="mysql"}')).toBe(1);
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);

      await db.destroy();
      body = await metricsOf(app);
      expect(sample(body, 'jobhub_dependency_up{dependency="mysql"}')).toBe(0);
    });
  });
});
