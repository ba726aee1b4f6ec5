import { setTimeout as sleep } from 'node:timers/promises';
import { In, LessThan, type DataSource } from 'typeorm';
import { SmsCodeTemp } from '../../entities/customer-service/sms-code-temp.entity';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { HubOutbox } from '../../entities/hub/hub-outbox.entity';
import { byScale, CHAOS_SCALE, recordRecovery } from '../support/chaos';
import { startMariadbStack, type MariadbStack } from '../support/mariadb-stack';
import type { PrivateMariadb } from '../support/private-mariadb';
import {
  attemptsSpent,
  awaitRecovery,
  enqueueAccepted,
  outboxVerdict,
  queueOfJob,
  queueVerdict,
  waitForMinuteSlotMs,
  watchApi,
  type ApiAnswer,
  type PrivateHub,
  type Probe,
  type TrackedJob,
} from '../support/private-hub';
import { until } from '../support/wait';

const TOKEN = 'chaos-mariadb-token-0123456789abcdef';
const itFull = CHAOS_SCALE === 'full' ? it : it.skip;
/** How soon after MySQL's return every process's /readyz must answer 200 again. */
const READY_WITHIN_MS = 10_000;

/** Outbox rows inserted as the server goes: business batches, relayed just before or just after. */
const OUTBOX_JOBS = ['share-aggregate', 'coupon-expire'] as const;

/**
 * MariaDB stopped (SIGTERM, as a restart or a crash with its data kept) under web, worker and clock,
 * for a minute or five in full, 15 s in short: jobs running when it goes, more enqueued over the
 * API meanwhile (sms-code-cleanup, as in the report where 20 of 20 failed for good), the clock's
 * minute slots firing into it. When it is back, without any process restarted, every job
 * completes once and nothing is failed, stranded or stuck.
 */
describe('MariaDB stopped under the hub', () => {
  let mariadb: PrivateMariadb;
  let db: DataSource;
  let hub: PrivateHub;
  /** hub_outbox rows inserted by every run so far: all of them end DONE. */
  let outboxRows = 0;

  let stack: MariadbStack | undefined;

  beforeAll(async () => {
    stack = await startMariadbStack('chaos-mariadb', TOKEN);
    ({ mariadb, db, hub } = stack);
  }, 180_000);

  afterAll(async () => {
    // Each process shut down cleanly at the end, never before.
    expect(await stack?.close()).toEqual({ web: 0, worker: 0, clock: 0 });
  }, 60_000);

  /** Enqueued over the API, which needs only Redis: accepted whether MySQL is there or not. */
  const enqueue = (name: string, payload: Record<string, unknown>, key: string): Promise<TrackedJob> => enqueueAccepted(hub, name, payload, key);

  async function runOutage(label: string, outageMs: number): Promise<void> {
    const expiredCodes = Array.from({ length: 40 }, (_, i) => ({ phone: `1390000${String(i).padStart(4, '0')}`, code: '123456', expireTime: new Date(Date.now() - 3_600_000) }));
    await db.getRepository(SmsCodeTemp).insert(expiredCodes);
    await sleep(waitForMinuteSlotMs(outageMs, 3_000));

    // Before: canaries holding (two run, ops runs two at once; two wait), one cleanup, outbox rows.
    const jobs: TrackedJob[] = [];
    const canaries: string[] = [];
    for (let i = 0; i < 4; i++) {
      const key = `${label}-before-${i}`;
      jobs.push(await enqueue('hub-canary', { key, holdMs: 2_000 }, key));
      canaries.push(key);
    }
    jobs.push(await enqueue('sms-code-cleanup', {}, `${label}-cleanup-before`));
    const firstCanary = jobs[0] as TrackedJob;
    await until('a canary is holding', async () => (await hub.queues.get('ops').getJob(firstCanary.id))?.progress !== 0, 15_000, 50);

    const watch = watchApi({
      readyz: () => hub.readyz('web'),
      runs: () => hub.api('GET', '/api/v1/reconciliation/runs'),
      refund: () => hub.api('POST', '/api/v1/refunds', { outTradeNo: `${label}-NO-SUCH-ORDER`, amount: 100 }, { 'idempotency-key': `${label}-refund` }),
    });
    const at = new Date();
    await db.getRepository(HubOutbox).insert(
      Array.from({ length: 10 }, (_, i) => ({ jobName: OUTBOX_JOBS[i % 2], payload: {}, status: 'PENDING' as const, createdTime: at, updatedTime: at })),
    );
    outboxRows += 10;

    const stopping = Date.now();
    await mariadb.stop();
    const down = Date.now();

    // During: 30 jobs over the API, spread over the outage; Redis is up, so each is accepted.
    const during = 30;
    for (let i = 0; i < during; i++) {
      const cleanup = i % 3 !== 0;
      const key = cleanup ? `${label}-cleanup-during-${i}` : `${label}-during-${i}`;
      jobs.push(cleanup ? await enqueue('sms-code-cleanup', { batchSize: 10 }, key) : await enqueue('hub-canary', { key }, key));
      if (!cleanup) canaries.push(key);
      await sleep(Math.max(0, down + ((i + 1) * (outageMs - 1_000)) / during - Date.now()));
    }
    await sleep(Math.max(0, down + outageMs - Date.now()));
    expect(hub.exited()).toEqual([]);
    const slots = hub.slotsEnqueued(stopping, Date.now()).map(({ job, jobId }) => ({ queue: queueOfJob(job), id: jobId }));
    jobs.push(...slots);

    const starting = Date.now();
    await mariadb.start();
    const back = Date.now();

    // Recovery: every job completed, every outbox row done, and every process ready again.
    const { doneAt, readyAt } = await awaitRecovery(hub, db, jobs, outboxRows, 180_000);
    await watch.stop();
    const recoveryMs = Math.max(doneAt, readyAt) - back;

    // Nothing failed for good anywhere, nothing stranded in the outbox, nothing stuck.
    const verdict = await queueVerdict(hub.queues);
    expect(verdict.failed).toEqual([]);
    const outbox = await outboxVerdict(db);
    expect(outbox.enqueued).toEqual([]);
    expect(Object.keys(outbox.byStatus)).toEqual(['DONE']);
    await until('nothing active', async () => (await queueVerdict(hub.queues)).active === 0, 15_000, 250);

    // Each canary wrote its row once, by the job enqueued for it.
    const rows = await db.getRepository(HubCanary).find({ where: { canaryKey: In(canaries) } });
    expect(rows.map((r) => r.canaryKey).sort()).toEqual([...canaries].sort());
    const idOf = new Map(jobs.map((j) => [j.id, j]));
    expect(rows.filter((r) => !idOf.has(r.jobId))).toEqual([]);
    // Waiting for the database cost no job an attempt.
    expect(rows.filter((r) => r.attempt !== 1)).toEqual([]);
    expect(await attemptsSpent(hub.queues, jobs)).toEqual([]);
    expect(await db.getRepository(SmsCodeTemp).countBy({ expireTime: LessThan(new Date()) })).toBe(0);
    // The clock fired into the outage, and those slots ran too (checked with the rest above).
    expect(slots.length).toBeGreaterThan(0);

    expect(hub.exited()).toEqual([]);
    expect(hub.starts()).toEqual({ web: 1, worker: 1, clock: 1 });

    const blamed = watch.probes.filter((p) => p.answer.body.error === 'queue_unavailable').length;
    recordRecovery({
      scenario: 'mariadb-stopped',
      fault: `MariaDB stopped ${Math.round(outageMs / 1000)} s`,
      recoveryMs,
      detail: `${verdict.failed.length} failed for good, ${outbox.enqueued.length} outbox rows stranded, ${jobs.length} jobs done in ${((doneAt - back) / 1000).toFixed(1)} s (${slots.length} clock slots), ready in ${((readyAt - back) / 1000).toFixed(1)} s, ${blamed} API answers blamed Redis`,
    });
    // Ready again as soon as MySQL answers: a probe every few seconds should see it within 10 s.
    expect({ readyAfterMs: readyAt - back, inTime: readyAt - back <= READY_WITHIN_MS }).toMatchObject({ inTime: true });
    assertAnswers(watch.probes, { stopping, down, starting, back });
  }

  /** The API throughout: 503 naming MySQL with Retry-After while it was away, never Redis, never a 500. */
  function assertAnswers(probes: readonly Probe[], { stopping, down, starting, back }: Record<'stopping' | 'down' | 'starting' | 'back', number>): void {
    const during = probes.filter((p) => p.startedAt > down && p.endedAt < starting);
    for (const p of during.filter((x) => x.what === 'readyz')) {
      const checks = p.answer.body.checks as Record<string, { ok: boolean; error?: string }>;
      expect({ status: p.answer.status, mysql: checks.mysql?.ok, redis: checks.redis?.ok }).toEqual({ status: 503, mysql: false, redis: true });
    }
    // Once back, the same calls answer as they did before.
    const last = (what: string): ApiAnswer | undefined => probes.filter((p) => p.what === what).at(-1)?.answer;
    expect(last('runs')?.status).toBe(200);
    expect(last('refund')?.body.error).toBe('PAYMENT_NOT_FOUND');

    // Never a 500, a dropped connection or Redis blamed, before, during or after; counted by kind.
    const phase = (p: Probe): string => (p.endedAt < stopping ? 'before' : p.startedAt > back ? 'after' : p.startedAt > down && p.endedAt < starting ? 'during' : 'around');
    const wrong = new Map<string, number>();
    for (const p of probes) {
      const bad = p.answer.status === 500 || p.answer.status === 0 || p.answer.body.error === 'queue_unavailable' || (p.what !== 'readyz' && /redis/i.test(JSON.stringify(p.answer.body)));
      const kind = `${p.what} ${phase(p)}: ${p.answer.status} ${JSON.stringify(p.answer.body)}`;
      if (bad) wrong.set(kind, (wrong.get(kind) ?? 0) + 1);
    }
    expect(Object.fromEntries(wrong)).toEqual({});
    const api = during.filter((p) => p.what !== 'readyz');
    expect(api.length).toBeGreaterThan(4);
    for (const p of api) {
      expect({ what: p.what, status: p.answer.status, retryAfter: p.answer.retryAfter, error: p.answer.body.error }).toEqual({
        what: p.what,
        status: 503,
        retryAfter: '5',
        error: 'database_unavailable',
      });
      expect(p.answer.body.message).toMatch(/MySQL/);
    }
  }

  it(`loses no job to a ${byScale(15, 60)} s outage and recovers without a restart`, async () => {
    await runOutage('a', byScale(15_000, 60_000));
  });

  itFull('loses no job to a 5-minute outage either', async () => {
    await runOutage('b', 300_000);
  });
});
