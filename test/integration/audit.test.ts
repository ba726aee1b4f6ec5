import type { FastifyInstance } from 'fastify';
import { recordAudit } from '../../entities/hub/hub-audit.entity';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { JOBS } from '../../jobs';
import { buildRegistry } from '../../jobs/define-job';
import { buildApp } from '../../server/app';
import { testConfig } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { auditMark, auditRows, basicAuth, BOARD_ADMIN, BOARD_ADMIN_ENV, greetJob, NAMED, refuseJob, writeUsersFile } from '../support/board';
import { readAllPages } from '../support/paging';
import { TEST_MCHID } from '../support/wechat-pay';

const registry = buildRegistry([...JOBS, greetJob, refuseJob]);
const CRM = 'crm-token-0123456789abcdef';
const OPS = 'ops-token-0123456789abcdef';

describe('the audit: API writes recorded after the action, and GET /api/v1/audit', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  let users: { path: string; remove(): void };
  /** Rows of this file only: other files of this jest worker write to the same table. */
  let mark = '0';
  const audited = (where: Parameters<typeof auditRows>[1], count = 1) => auditRows(hub.db, where, { count, after: mark });

  beforeAll(async () => {
    hub = await openTestHub(__filename, { registry });
    users = await writeUsersFile([NAMED.admin, NAMED.operator]);
    const config = testConfig({
      HUB_QUEUE_PREFIX: hub.prefix,
      HUB_API_TOKENS: `crm:${CRM}:business,opsbot:${OPS}:business|ops`,
      ...BOARD_ADMIN_ENV,
      HUB_USERS_FILE: users.path,
    });
    mark = await auditMark(hub.db);
    app = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
  });
  afterAll(async () => {
    await app.close();
    await hub.close();
    users.remove();
  });

  const enqueue = (token: string, job: string, payload: object, key?: string) =>
    app.inject({ method: 'POST', url: `/api/v1/jobs/${job}`, remoteAddress: '192.0.2.10', headers: { authorization: `Bearer ${token}`, ...(key ? { 'idempotency-key': key } : {}) }, payload });

  it('records an API enqueue under its client, with the job, the key and the answer; refusals and bad payloads too', async () => {
    const res = await enqueue(CRM, 'test-greet', { memberId: '42' }, 'greet-42');
    expect(res.statusCode).toBe(202);
    const { id } = res.json<{ id: string }>();
    const [row] = await audited({ actor: 'crm', action: 'job.enqueue', businessKey: 'greet-42' });
    expect(row).toMatchObject({ actorKind: 'api', role: 'business', queue: 'messages', jobIds: [id], outcome: 'ok', statusCode: 202, sourceAddress: '192.0.2.10', detail: { id, name: 'test-greet', queue: 'messages' } });
    expect(await hub.queues.get('messages').getJob(id)).toBeDefined();

    expect((await enqueue(CRM, 'hub-canary', {})).statusCode).toBe(403);
    expect((await enqueue('not-a-token-000000000', 'test-greet', { memberId: '1' })).statusCode).toBe(401);
    expect((await enqueue(CRM, 'test-greet', { memberId: 1 })).statusCode).toBe(400);
    const [scope] = await audited({ actor: 'crm', action: 'job.enqueue', statusCode: 403 });
    expect(scope).toMatchObject({ outcome: 'refused', queue: 'ops', jobIds: null, detail: { error: 'forbidden' } });
    const [nobody] = await audited({ actor: '(anonymous)', action: 'job.enqueue' });
    expect(nobody).toMatchObject({ actorKind: 'api', role: null, outcome: 'refused', statusCode: 401 });
    const [invalid] = await audited({ actor: 'crm', action: 'job.enqueue', statusCode: 400 });
    expect(invalid).toMatchObject({ outcome: 'failed', detail: { error: 'invalid_payload' } });
  });

  it('records a refund request under its client with its out_refund_no, and a refused one with the trade number asked for', async () => {
    const outTradeNo = `PAUD${Date.now()}`;
    const at = new Date();
    await hub.db.getRepository(PaymentOrder).insert({ businessType: 'EVENT', mchid: TEST_MCHID, outTradeNo, amount: 500, payerTotal: 500, transactionId: null, payStatus: 'PAY_SUCCESS', tradeState: 'SUCCESS', successTime: at, createdTime: at, updatedTime: at });
    const payment = await hub.db.getRepository(PaymentOrder).findOneByOrFail({ outTradeNo });
    await hub.db.getRepository(EventOrder).insert({ paymentOrderId: payment.id, pamentStatus: 'PAY_SUCCESS', status: 'JOINED', createdTime: at, updatedTime: at });
    const refund = (body: object, key: string) =>
      app.inject({ method: 'POST', url: '/api/v1/refunds', headers: { authorization: `Bearer ${CRM}`, 'idempotency-key': key }, payload: body });

    const res = await refund({ outTradeNo, amount: 200, reason: '活动取消' }, 'refund-aud-1');
    expect(res.statusCode).toBe(202);
    const { outRefundNo } = res.json<{ outRefundNo: string }>();
    const [row] = await audited({ actor: 'crm', action: 'refund.request', businessKey: outRefundNo });
    expect(row).toMatchObject({ actorKind: 'api', role: 'business', outcome: 'ok', statusCode: 202, detail: { outRefundNo, outTradeNo, amount: 200, status: 'REFUNDING' } });

    expect((await refund({ outTradeNo: 'NOSUCHORDER', amount: 100 }, 'refund-aud-2')).statusCode).toBe(404);
    const [missing] = await audited({ actor: 'crm', action: 'refund.request', businessKey: 'NOSUCHORDER' });
    expect(missing).toMatchObject({ outcome: 'failed', statusCode: 404, detail: { error: 'PAYMENT_NOT_FOUND' } });
  });

  it('lets the action stand when its audit row cannot be written: logged at error level and counted', async () => {
    const failures = async (): Promise<number> => Number(/^jobhub_audit_write_failures_total (\d+)$/m.exec((await app.inject({ method: 'GET', url: '/metrics' })).body)?.[1] ?? -1);
    const before = await failures();
    expect(before).toBeGreaterThanOrEqual(0);
    await hub.db.query('RENAME TABLE hub_audit TO hub_audit_away');
    try {
      const res = await enqueue(CRM, 'test-greet', { memberId: '43' }, 'greet-43');
      expect(res.statusCode).toBe(202);
      expect(await hub.queues.get('messages').getJob(res.json<{ id: string }>().id)).toBeDefined();
      const deadline = Date.now() + 5_000;
      while ((await failures()) === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await failures()).toBe(before + 1);
      expect(hub.logText()).toMatch(/"level":"error".*"action":"job.enqueue".*"msg":"audit row not written"/);
    } finally {
      await hub.db.query('RENAME TABLE hub_audit_away TO hub_audit');
    }
  });

  describe('GET /api/v1/audit', () => {
    const base = Date.parse('2026-11-20T02:00:00Z');
    beforeAll(async () => {
      // Seven rows of one person a minute apart, one of another, as a command would write them.
      for (let i = 0; i < 7; i += 1) {
        await recordAudit(hub.db, { occurredAt: new Date(base + i * 60_000), actor: 'pager', actorKind: 'cli', role: 'admin', action: i % 2 ? 'queue.pause' : 'queue.resume', queue: 'sms', outcome: 'ok', detail: { i } });
      }
      await recordAudit(hub.db, { occurredAt: new Date(base), actor: 'someone-else', actorKind: 'cli', action: 'queue.pause', outcome: 'ok' });
    });

    type Page = { entries: { id: string; actor: string; action: string; occurredAt: string; detail: { i: number } }[]; nextBefore: string | null };
    const get = (query: string, authorization = basicAuth(BOARD_ADMIN)) => app.inject({ method: 'GET', url: `/api/v1/audit${query}`, headers: { authorization } });

    it('filters by who, newest first, and pages by id until the end', async () => {
      const entries = await readAllPages(async (before) => {
        const res = await get(`?who=pager&limit=3${before ? `&before=${before}` : ''}`);
        const body = res.json<Page>();
        return { status: res.statusCode, items: body.entries, nextBefore: body.nextBefore };
      });
      expect(entries.every((e) => e.actor === 'pager')).toBe(true);
      expect(entries.map((e) => e.detail.i)).toEqual([6, 5, 4, 3, 2, 1, 0]);
    });

    it('filters by action and by time (since inclusive, until exclusive; RFC 3339 or Beijing time)', async () => {
      const pauses = (await get('?who=pager&action=queue.pause')).json<Page>();
      expect(pauses.entries.map((e) => e.detail.i)).toEqual([5, 3, 1]);
      expect(pauses.nextBefore).toBeNull();
      const window = (await get(`?who=pager&since=${encodeURIComponent('2026-11-20T10:02:00+08:00')}&until=${encodeURIComponent('2026-11-20 10:05')}`)).json<Page>();
      expect(window.entries.map((e) => e.detail.i)).toEqual([4, 3, 2]);
      expect(window.entries[0]?.occurredAt).toBe('2026-11-20T02:04:00.000Z');
    });

    it('answers 400 naming the field for a bad query', async () => {
      for (const [query, field] of [['?limit=501', 'limit'], ['?limit=0', 'limit'], ['?since=yesterday', 'since'], ['?before=abc', 'before'], ['?colour=red', '(query)']] as const) {
        const res = await get(query);
        expect({ query, status: res.statusCode }).toEqual({ query, status: 400 });
        const body = res.json<{ error: string; message: string; fields: string[] }>();
        expect(body).toMatchObject({ error: 'invalid_query', message: 'invalid query' });
        expect(body.fields.join('\n')).toContain(field);
      }
    });

    it('is for admins only: the board admin, a named admin, or a token scoped ops', async () => {
      expect((await get('?limit=1', basicAuth(NAMED.admin))).statusCode).toBe(200);
      expect((await get('?limit=1', `Bearer ${OPS}`)).statusCode).toBe(200);
      const operator = await get('?limit=1', basicAuth(NAMED.operator));
      expect([operator.statusCode, operator.json<{ error: string }>().error]).toEqual([403, 'forbidden']);
      expect((await get('?limit=1', `Bearer ${CRM}`)).statusCode).toBe(403);
      expect((await get('?limit=1', `Bearer not-a-token-000000000`)).statusCode).toBe(401);
      expect((await get('?limit=1', basicAuth({ ...BOARD_ADMIN, password: 'wrong' }))).statusCode).toBe(401);
      expect((await app.inject({ method: 'GET', url: '/api/v1/audit' })).statusCode).toBe(401);
    });
  });
});
