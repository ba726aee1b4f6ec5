import type { QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { MoreThan, type FindOptionsWhere } from 'typeorm';
import { z } from 'zod';
import { HubAlert, recordAlert } from '../../entities/hub/hub-alert.entity';
import { JOBS } from '../../jobs';
import { buildRegistry, defineJob, done } from '../../jobs/define-job';
import { raiseAlert, type AlertContext } from '../../jobs/messaging/alert-ops';
import { applyRetention } from '../../jobs/ops/retention';
import { RetryableError } from '../../lib/errors';
import { alertWriteFailures } from '../../lib/metrics';
import { parseBeijing } from '../../lib/time';
import { buildApp } from '../../server/app';
import { basicAuth, BOARD_ADMIN, BOARD_ADMIN_ENV, NAMED, writeUsersFile } from '../support/board';
import { testConfig } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { readAllPages } from '../support/paging';

/** Raises an alert, then fails its first attempt: the retry raises the same alert again. */
const alertingJob = defineJob({
  name: 'test-alerting',
  queue: 'messages',
  description: 'raises an alert and fails once',
  payload: z.object({ outRefundNo: z.string() }),
  options: { attempts: 2, backoff: { type: 'fixed', delay: 100 } },
  handle: async ({ outRefundNo }, ctx) => {
    await raiseAlert(ctx, 'refund-failed', `test refund ${outRefundNo} failed`, { outRefundNo, phone: '13812345678', token: 'tok-secret-1', attempt: 'any' });
    if (ctx.job.attempt === 1) throw new RetryableError('not yet');
    return done({ outRefundNo });
  },
});

const registry = buildRegistry([...JOBS, alertingJob]);
const CRM = 'crm-token-0123456789abcdef';
const OPS = 'ops-token-0123456789abcdef';
const TEN_AM = parseBeijing('2026-12-01 10:00:00');

describe('alerts: one hub_alert row per alert, GET /api/v1/alerts, retention', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  let events: QueueEvents;
  let users: { path: string; remove(): void };
  /** Rows of this file only: other files of this jest worker raise alerts into the same table. */
  let mark = '0';
  const rowsAfterMark = (where: FindOptionsWhere<HubAlert>) => hub.db.getRepository(HubAlert).find({ where: { ...where, id: MoreThan(mark) }, order: { id: 'ASC' } });
  const watchCtx = (now: Date): AlertContext => ({ db: hub.db, log: hub.log, now: () => now, enqueue: hub.enqueue, config: hub.config });

  beforeAll(async () => {
    hub = await openTestHub(__filename, { registry });
    events = await testQueueEvents('messages', hub.prefix);
    users = await writeUsersFile([NAMED.admin, NAMED.operator, NAMED.viewer]);
    const config = testConfig({
      HUB_QUEUE_PREFIX: hub.prefix,
      HUB_API_TOKENS: `crm:${CRM}:business,opsbot:${OPS}:business|ops`,
      ...BOARD_ADMIN_ENV,
      HUB_USERS_FILE: users.path,
    });
    app = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
    const [newest] = await hub.db.getRepository(HubAlert).find({ order: { id: 'DESC' }, take: 1 });
    mark = newest?.id ?? '0';
  });
  afterAll(async () => {
    await events.close();
    await app.close();
    await hub.close();
    users.remove();
  });

  describe('raiseAlert', () => {
    it('writes one row for an alert its job raised again on a retry, masked as the logs are', async () => {
      hub.startWorkers(['messages']);
      const { id } = await hub.enqueue(alertingJob, { outRefundNo: 'RALERT1' });
      await (await hub.queues.get('messages').getJob(id))?.waitUntilFinished(events, 20_000);
      // Raised twice (both attempts logged it), stored once.
      expect(hub.logText().match(/"alert":"refund-failed"[^\n]*test refund RALERT1 failed/g)).toHaveLength(2);
      const rows = await rowsAfterMark({ message: 'test refund RALERT1 failed' });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({
        kind: 'refund-failed',
        jobName: 'test-alerting',
        jobId: id,
        details: { outRefundNo: 'RALERT1', phone: '138****5678', token: '[REDACTED]', attempt: 'any' },
      });
      expect(JSON.stringify(rows[0])).not.toMatch(/13812345678|tok-secret-1/);
    });

    it('keeps the same alert of another job, and of the failed-jobs watch one row per Beijing hour', async () => {
      const other = { id: 'other-job-1', name: 'test-alerting', attempt: 1 };
      await raiseAlert({ ...watchCtx(TEN_AM), job: other }, 'refund-failed', 'test refund RALERT1 failed', { outRefundNo: 'RALERT1', phone: '13812345678', token: 'tok-secret-1', attempt: 'any' });
      expect(await rowsAfterMark({ message: 'test refund RALERT1 failed' })).toHaveLength(2);

      const watch = (now: Date) => raiseAlert(watchCtx(now), 'queue-failed-jobs', 'test queue sms has 3 or more failed jobs', { queue: 'sms', failed: 3 });
      await watch(TEN_AM);
      await watch(new Date(TEN_AM.getTime() + 59 * 60_000));
      await watch(new Date(TEN_AM.getTime() + 60 * 60_000));
      const rows = await rowsAfterMark({ kind: 'queue-failed-jobs', message: 'test queue sms has 3 or more failed jobs' });
      expect(rows.map((r) => [r.raisedAt.toISOString(), r.jobName, r.jobId])).toEqual([
        [TEN_AM.toISOString(), null, null],
        [new Date(TEN_AM.getTime() + 60 * 60_000).toISOString(), null, null],
      ]);
    });

    it('never throws when the row cannot be written: logged at error level and counted', async () => {
      const failures = async (): Promise<number> => (await alertWriteFailures.get()).values[0]?.value ?? 0;
      const before = await failures();
      await hub.db.query('RENAME TABLE hub_alert TO hub_alert_away');
      try {
        await expect(raiseAlert(watchCtx(TEN_AM), 'reconciliation-failed', 'test bill could not be reconciled while hub_alert was away')).resolves.toBeUndefined();
      } finally {
        await hub.db.query('RENAME TABLE hub_alert_away TO hub_alert');
      }
      expect(await failures()).toBe(before + 1);
      expect(hub.logText()).toMatch(/"level":"error".*"kind":"reconciliation-failed".*"msg":"alert row not written"/);
      expect(await rowsAfterMark({ message: 'test bill could not be reconciled while hub_alert was away' })).toEqual([]);
    });
  });

  describe('GET /api/v1/alerts', () => {
    // A window of its own, years before any other file's alerts.
    const base = Date.parse('2020-01-10T02:00:00Z');
    const window = `since=${encodeURIComponent('2020-01-10 00:00')}&until=${encodeURIComponent('2020-01-11T00:00:00+08:00')}`;
    beforeAll(async () => {
      // Seven alerts of one kind a minute apart, one of another, as the failed-jobs watch would write them.
      for (let i = 0; i < 7; i += 1) await recordAlert(hub.db, { kind: 'reconciliation-failed', message: 'test bill failed', details: { i }, raisedAt: new Date(base + i * 60_000) });
      await recordAlert(hub.db, { kind: 'refund-failed', message: 'test refund failed', details: { i: 100 }, raisedAt: new Date(base), job: { id: 'job-7', name: 'refund-submit' } });
    });

    type Page = { alerts: { id: string; kind: string; raisedAt: string; jobName: string | null; jobId: string | null; details: { i: number } }[]; nextBefore: string | null };
    const get = (query: string, authorization = basicAuth(BOARD_ADMIN)) => app.inject({ method: 'GET', url: `/api/v1/alerts?${query}`, headers: { authorization } });

    it('lists newest first, filtered by kind, and pages by id until the end', async () => {
      const alerts = await readAllPages(async (before) => {
        const res = await get(`${window}&kind=reconciliation-failed&limit=3${before ? `&before=${before}` : ''}`);
        const body = res.json<Page>();
        return { status: res.statusCode, items: body.alerts, nextBefore: body.nextBefore };
      });
      expect(alerts.every((a) => a.kind === 'reconciliation-failed')).toBe(true);
      expect(alerts.map((a) => a.details.i)).toEqual([6, 5, 4, 3, 2, 1, 0]);
      const all = (await get(window)).json<Page>();
      expect(all.alerts.map((a) => a.details.i)).toEqual([100, 6, 5, 4, 3, 2, 1, 0]);
      expect(all.alerts[0]).toMatchObject({ kind: 'refund-failed', jobName: 'refund-submit', jobId: 'job-7', raisedAt: '2020-01-10T02:00:00.000Z' });
      expect(all.nextBefore).toBeNull();
    });

    it('filters by time: since inclusive, until exclusive; RFC 3339 or Beijing time', async () => {
      const res = await get(`kind=reconciliation-failed&since=${encodeURIComponent('2020-01-10T10:02:00+08:00')}&until=${encodeURIComponent('2020-01-10 10:05')}`);
      const body = res.json<Page>();
      expect(body.alerts.map((a) => a.details.i)).toEqual([4, 3, 2]);
      expect(body.alerts[0]?.raisedAt).toBe('2020-01-10T02:04:00.000Z');
    });

    it('answers 400 naming the field for a bad query', async () => {
      for (const [query, field] of [['limit=501', 'limit'], ['limit=0', 'limit'], ['since=yesterday', 'since'], ['before=abc', 'before'], ['kind=', 'kind'], ['colour=red', '(query)']] as const) {
        const res = await get(query);
        expect({ query, status: res.statusCode }).toEqual({ query, status: 400 });
        const body = res.json<{ error: string; fields: string[] }>();
        expect(body.error).toBe('invalid_query');
        expect(body.fields.join('\n')).toContain(field);
      }
    });

    it('is for ops only, as the audit: the board admin, a named admin, or a token scoped ops', async () => {
      expect((await get('limit=1', basicAuth(NAMED.admin))).statusCode).toBe(200);
      expect((await get('limit=1', `Bearer ${OPS}`)).statusCode).toBe(200);
      for (const account of [NAMED.operator, NAMED.viewer]) {
        const refused = await get('limit=1', basicAuth(account));
        expect([account.role, refused.statusCode, refused.json<{ error: string }>().error]).toEqual([account.role, 403, 'forbidden']);
      }
      expect((await get('limit=1', `Bearer ${CRM}`)).statusCode).toBe(403);
      expect((await get('limit=1', 'Bearer not-a-token-000000000')).statusCode).toBe(401);
      expect((await get('limit=1', basicAuth({ ...BOARD_ADMIN, password: 'wrong' }))).statusCode).toBe(401);
      expect((await app.inject({ method: 'GET', url: '/api/v1/alerts' })).statusCode).toBe(401);
    });

    it('is in the OpenAPI document with its filters', async () => {
      const doc = (await app.inject({ method: 'GET', url: '/api/openapi.json' })).json<{ paths: Record<string, { get?: { parameters?: { name: string }[] } }> }>();
      expect(doc.paths['/api/v1/alerts']?.get?.parameters?.map((p) => p.name).sort()).toEqual(['before', 'kind', 'limit', 'since', 'until']);
    });
  });

  it('hub-retention deletes alerts older than alertDays, and only those, in batches', async () => {
    // Years before any other file's alerts, so only these rows are old enough.
    const at = (day: string): Date => parseBeijing(`2001-${day} 12:00`);
    for (const [i, day] of ['01-01', '01-02', '01-03', '03-01'].entries()) {
      await recordAlert(hub.db, { kind: 'reconciliation-failed', message: 'test old alert', details: { i }, raisedAt: at(day) });
    }
    const now = at('04-01');
    const days = { outboxDays: 3_650, deliveryDays: 3_650, billRowDays: 3_650, canaryDays: 3_650, alertDays: 60 };
    const counts = await applyRetention(hub.db, now, days, 1, new AbortController().signal);
    expect(counts.alerts).toBe(3);
    expect((await rowsAfterMark({ message: 'test old alert' })).map((r) => r.details?.i)).toEqual([3]);
    expect((await applyRetention(hub.db, now, days, 1, new AbortController().signal)).alerts).toBe(0);
  });
});
