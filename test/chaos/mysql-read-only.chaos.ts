import { setTimeout as sleep } from 'node:timers/promises';
import { In, type DataSource } from 'typeorm';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { HubOutbox } from '../../entities/hub/hub-outbox.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { byScale, recordRecovery } from '../support/chaos';
import { startMariadbStack, type MariadbStack } from '../support/mariadb-stack';
import type { PrivateMariadb } from '../support/private-mariadb';
import {
  attemptsSpent,
  awaitRecovery,
  enqueueAccepted,
  outboxVerdict,
  queueVerdict,
  watchApi,
  type PrivateHub,
  type TrackedJob,
} from '../support/private-hub';
import { until } from '../support/wait';

const TOKEN = 'chaos-readonly-token-0123456789abcdef';
const OUTAGE_MS = byScale(10_000, 30_000);
const MCHID = '1900000109';
const APPID = 'wx00000000000000a1';

/**
 * The primary demoted in a failover: MySQL answers, reads work, every write is refused (1290,
 * read_only for a login without SUPER). Meanwhile canaries run into it and the refund API, which
 * records a row before it queues anything, answers 503 naming MySQL; readiness says read-only.
 * Once writes are back every job completes once, nothing failed for good, without a restart.
 */
describe('MySQL read-only under the hub', () => {
  let mariadb: PrivateMariadb;
  let db: DataSource;
  let hub: PrivateHub;

  let stack: MariadbStack | undefined;

  beforeAll(async () => {
    stack = await startMariadbStack('chaos-read-only', TOKEN);
    ({ mariadb, db, hub } = stack);
  }, 180_000);

  afterAll(async () => {
    await mariadb?.setReadOnly(false);
    // Each process shut down cleanly at the end, never before.
    expect(await stack?.close()).toEqual({ web: 0, worker: 0, clock: 0 });
  }, 60_000);

  const enqueue = (name: string, payload: Record<string, unknown>, key: string): Promise<TrackedJob> => enqueueAccepted(hub, name, payload, key);

  it(`refuses writes for ${OUTAGE_MS / 1000} s, then completes every job once without a restart`, async () => {
    // A paid payment: refunding it writes refund_order first, which read-only refuses.
    const paidAt = new Date(Date.now() - 3_600_000);
    await db.getRepository(PaymentOrder).insert({
      businessType: 'MALL', mchid: MCHID, appid: APPID, outTradeNo: 'READONLY000001', amount: 1_000, payerTotal: 1_000, payStatus: 'PAY_SUCCESS',
      tradeState: 'SUCCESS', successTime: paidAt, refundedAmount: 0, createdTime: paidAt, updatedTime: paidAt, deleted: 0,
    });

    const jobs: TrackedJob[] = [];
    const canaries: string[] = [];
    for (let i = 0; i < 4; i++) {
      const key = `ro-before-${i}`;
      jobs.push(await enqueue('hub-canary', { key, holdMs: 1_500 }, key));
      canaries.push(key);
    }
    const firstCanary = jobs[0] as TrackedJob;
    await until('a canary is holding', async () => (await hub.queues.get('ops').getJob(firstCanary.id))?.progress !== 0, 15_000, 50);
    const at = new Date();
    await db.getRepository(HubOutbox).insert(
      Array.from({ length: 10 }, (_, i) => ({ jobName: i % 2 ? 'coupon-expire' : 'share-aggregate', payload: {}, status: 'PENDING' as const, createdTime: at, updatedTime: at })),
    );

    const watch = watchApi({
      readyz: () => hub.readyz('web'),
      runs: () => hub.api('GET', '/api/v1/reconciliation/runs'),
      refund: () => hub.api('POST', '/api/v1/refunds', { outTradeNo: 'READONLY000001', amount: 100 }, { 'idempotency-key': 'ro-refund' }),
    });
    await mariadb.setReadOnly(true);
    const readOnly = Date.now();

    const during = 15;
    for (let i = 0; i < during; i++) {
      const cleanup = i % 3 === 2;
      const key = cleanup ? `ro-cleanup-during-${i}` : `ro-during-${i}`;
      jobs.push(cleanup ? await enqueue('sms-code-cleanup', {}, key) : await enqueue('hub-canary', { key }, key));
      if (!cleanup) canaries.push(key);
      await sleep(Math.max(0, readOnly + ((i + 1) * (OUTAGE_MS - 1_000)) / during - Date.now()));
    }
    await sleep(Math.max(0, readOnly + OUTAGE_MS - Date.now()));
    expect(hub.exited()).toEqual([]);
    // Nothing was recorded of the refund refused meanwhile.
    expect(await db.getRepository(RefundOrder).count()).toBe(0);

    const lifting = Date.now();
    await mariadb.setReadOnly(false);
    const back = Date.now();
    // The refund answered 503 throughout; it is not repeated, so nothing waits on WeChat Pay.
    await watch.stop();

    const { doneAt, readyAt } = await awaitRecovery(hub, db, jobs, 10, 180_000);
    const recoveryMs = Math.max(doneAt, readyAt) - back;

    const verdict = await queueVerdict(hub.queues);
    expect(verdict.failed).toEqual([]);
    const outbox = await outboxVerdict(db);
    expect(outbox.enqueued).toEqual([]);
    await until('nothing active', async () => (await queueVerdict(hub.queues)).active === 0, 15_000, 250);
    const rows = await db.getRepository(HubCanary).find({ where: { canaryKey: In(canaries) } });
    expect(rows.map((r) => r.canaryKey).sort()).toEqual([...canaries].sort());
    const ids = new Set(jobs.map((j) => j.id));
    expect(rows.filter((r) => !ids.has(r.jobId))).toEqual([]);
    expect(rows.filter((r) => r.attempt !== 1)).toEqual([]);
    expect(await attemptsSpent(hub.queues, jobs)).toEqual([]);

    // The API meanwhile: reads answered, the write 503 naming MySQL, readiness 503 saying read-only.
    const duringProbes = watch.probes.filter((p) => p.startedAt > readOnly && p.endedAt < lifting);
    const of = (what: string): typeof duringProbes => duringProbes.filter((p) => p.what === what);
    expect(of('refund').length).toBeGreaterThan(4);
    for (const p of watch.probes) {
      expect({ what: p.what, status: p.answer.status }).not.toMatchObject({ status: 500 });
      expect(p.answer.body.error).not.toBe('queue_unavailable');
    }
    for (const p of of('refund')) {
      expect({ status: p.answer.status, retryAfter: p.answer.retryAfter, error: p.answer.body.error }).toEqual({ status: 503, retryAfter: '5', error: 'database_unavailable' });
      expect(p.answer.body.message).toMatch(/MySQL/);
    }
    for (const p of of('runs')) expect(p.answer.status).toBe(200);
    for (const p of of('readyz')) {
      const checks = p.answer.body.checks as Record<string, { ok: boolean; error?: string }>;
      expect({ status: p.answer.status, mysql: checks.mysql?.ok, redis: checks.redis?.ok }).toEqual({ status: 503, mysql: false, redis: true });
      expect(checks.mysql?.error).toMatch(/read-only/);
    }
    expect(hub.exited()).toEqual([]);
    expect(hub.starts()).toEqual({ web: 1, worker: 1, clock: 1 });

    recordRecovery({
      scenario: 'mysql-read-only',
      fault: `MySQL read-only ${OUTAGE_MS / 1000} s`,
      recoveryMs,
      detail: `${verdict.failed.length} failed for good, ${outbox.enqueued.length} outbox rows stranded, ${jobs.length} jobs done once in ${((doneAt - back) / 1000).toFixed(1)} s, ready in ${((readyAt - back) / 1000).toFixed(1)} s`,
    });
    expect({ readyAfterMs: readyAt - back, inTime: readyAt - back <= 10_000 }).toMatchObject({ inTime: true });
  });
});
