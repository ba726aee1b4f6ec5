import { setTimeout as sleep } from 'node:timers/promises';
import type { QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { JOBS } from '../../jobs';
import { buildRegistry, defineJob, done } from '../../jobs/define-job';
import { RetryableError } from '../../lib/errors';
import { serveMetrics } from '../../lib/metrics-server';
import { buildApp } from '../../server/app';
import { startClockRole } from '../../workers/clock';
import { initialiseMetrics } from '../../workers/initialise-metrics';
import { openRuntime } from '../../workers/runtime';
import { greetJob } from '../support/board';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { track } from '../support/resources';

/** Fails its first attempt; the retry runs 300 ms later. */
const onceJob = defineJob({
  name: 'test-once',
  queue: 'messages',
  description: 'fails once',
  payload: z.object({ key: z.string() }),
  options: { attempts: 2, backoff: { type: 'fixed', delay: 300 } },
  handle: async ({ key }, ctx) => {
    if (ctx.job.attempt === 1) throw new RetryableError('not yet');
    return done({ key });
  },
});

const registry = buildRegistry([...JOBS, greetJob, onceJob]);

/** One sample's value in Prometheus text, or undefined when the series is absent. */
function sample(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics: which process exports what', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  let events: QueueEvents;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { registry });
    app = await buildApp({ config: hub.config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
    events = await testQueueEvents('messages', hub.prefix);
  });
  afterAll(async () => {
    await events.close();
    await app.close();
    await hub.close();
  });

  const webMetrics = async (): Promise<string> => (await app.inject({ method: 'GET', url: '/metrics' })).body;
  const finish = async (id: string): Promise<void> => {
    await (await hub.queues.get('messages').getJob(id))?.waitUntilFinished(events, 10_000);
  };

  it('a web process exports no queue gauges; the clock role exports them for every queue, until it stops', async () => {
    await hub.queues.get('messages').obliterate({ force: true });
    expect(await webMetrics()).not.toMatch(/jobhub_queue_/);

    const runtime = await openRuntime(hub.config, hub.log);
    let open = true;
    track({ kind: 'closable', value: { isOpen: () => open }, label: 'runtime' });
    try {
      const clock = startClockRole(runtime, hub.config, hub.log, []);
      const server = await serveMetrics(0, hub.log, runtime.readiness);
      try {
        await hub.enqueue(greetJob, { memberId: 'gauge' });
        const body = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
        expect(sample(body, 'jobhub_queue_jobs{queue="messages",state="waiting"}')).toBe(1);
        expect(sample(body, 'jobhub_queue_jobs{queue="ops",state="waiting"}')).toBe(0);
        expect(sample(body, 'jobhub_queue_oldest_waiting_seconds{queue="messages"}')).toBeGreaterThanOrEqual(0);
      } finally {
        await server.close();
        await clock.close();
      }
      expect(await webMetrics()).not.toMatch(/jobhub_queue_/);
    } finally {
      await runtime.close();
      open = false;
    }
  });

  it('observes each job\'s wait once: from enqueue or the end of its delay to its first start, not its retry', async () => {
    const queue = hub.queues.get('messages');
    await queue.obliterate({ force: true });
    const waited = await hub.enqueue(greetJob, { memberId: 'waited' });
    await sleep(1_200);
    const pool = hub.startWorkers(['messages']);
    try {
      await finish(waited.id);
      const delayed = await hub.enqueue(greetJob, { memberId: 'delayed' }, { delay: 1_000 });
      const retried = await hub.enqueue(onceJob, { key: 'r' });
      await finish(delayed.id);
      await finish(retried.id);
    } finally {
      await pool.close();
    }
    const body = await webMetrics();
    const greet = 'job="test-greet",queue="messages"';
    expect(sample(body, `jobhub_job_wait_seconds_count{${greet}}`)).toBe(2);
    expect(sample(body, `jobhub_job_wait_seconds_sum{${greet}}`)).toBeGreaterThanOrEqual(1.2);
    // The delayed job waited its delay, but was ready only at its end.
    expect(sample(body, `jobhub_job_wait_seconds_bucket{le="1",${greet}}`)).toBe(1);
    const once = 'job="test-once",queue="messages"';
    expect(sample(body, `jobhub_jobs_retried_total{${once}}`)).toBe(1);
    expect(sample(body, `jobhub_job_duration_seconds_count{${once}}`)).toBe(2);
    expect(sample(body, `jobhub_job_wait_seconds_count{${once}}`)).toBe(1);
  });

  it('starts every known counter series at 0, and leaves counted ones as they are', async () => {
    initialiseMetrics({ config: hub.config, enqueue: hub.enqueue, registry });
    const body = await webMetrics();
    const zero = [
      'jobhub_jobs_failed_total{job="sms-send",queue="sms"}',
      'jobhub_jobs_retried_total{job="refund-submit",queue="refunds"}',
      'jobhub_jobs_completed_total{job="sms-send",queue="sms",status="skipped"}',
      'jobhub_jobs_handed_back_total{job="school-sync",queue="sync"}',
      'jobhub_jobs_waiting_for_database_total{job="coupon-expire",queue="marketing"}',
      'jobhub_clock_slots_total{job="sms-code-cleanup",outcome="error"}',
      'jobhub_sweeper_runs_total{sweeper="outbox",outcome="error"}',
      'jobhub_sweeper_restored_total{sweeper="failed-jobs-watch"}',
      'jobhub_workers_recreated_total{queue="payments"}',
      'jobhub_outbox_rows_total{outcome="failed"}',
      'jobhub_alerts_total{kind="refund-failed"}',
      'jobhub_messages_total{channel="wechat-subscribe",status="UNKNOWN"}',
      'jobhub_sms_receipts_total{provider="tencent",outcome="refused"}',
      'jobhub_board_login_failures_total{reason="throttled"}',
    ];
    for (const series of zero) expect([series, sample(body, series)]).toEqual([series, 0]);
    expect(sample(body, 'jobhub_jobs_completed_total{job="test-greet",queue="messages",status="done"}')).toBe(2);
    expect(sample(body, 'jobhub_jobs_completed_total{job="test-greet",queue="messages",status="skipped"}')).toBe(0);
  });

  it('workers keep BullMQ\'s per-minute counts of finished jobs, which the dashboard charts', async () => {
    const queue = hub.queues.get('messages');
    await queue.obliterate({ force: true });
    const pool = hub.startWorkers(['messages']);
    try {
      await finish((await hub.enqueue(greetJob, { memberId: 'chart' })).id);
    } finally {
      await pool.close();
    }
    expect(await hub.redis.exists(`${queue.qualifiedName}:metrics:completed`)).toBe(1);
    expect((await queue.getMetrics('completed')).meta.count).toBe(1);
  });
});
