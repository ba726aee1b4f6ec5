import type { FastifyInstance } from 'fastify';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { RefundOrder, type RefundOrderStatus } from '../../entities/marketing/refund-order.entity';
import { registry } from '../../jobs';
import { smsCodeCleanup } from '../../jobs/ops/sms-code-cleanup.job';
import { refundSubmit } from '../../jobs/wechat-pay/refund-submit.job';
import { refundJobId } from '../../jobs/wechat-pay/request-refund';
import { SCHEDULES } from '../../jobs/schedules';
import { buildApp } from '../../server/app';
import { startClock } from '../../workers/clock';
import { basicAuth, BOARD_ADMIN, BOARD_ADMIN_ENV, BOARD_VIEWER, BOARD_VIEWER_ENV } from '../support/board';
import { testConfig } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { TEST_MCHID } from '../support/wechat-pay';

const CRM = 'crm-token-0123456789abcdef';
const OPS = 'ops-token-0123456789abcdef';

type RefundPage = { refunds: { refundOrderId: string; outRefundNo: string; outTradeNo: string; amount: number; status: string; createdTime: string }[]; nextBefore: string | null };
type Lookup = { key: string; matches: { kind: string; summary: string; links: { board?: string; api?: string }; detail: Record<string, unknown> }[] };
type Slot = { at: string; beijing: string; jobId: string };
type ScheduleAnswer = { now: string; schedules: { job: string; queue: string; cron: string; timezone: string; nextSlot: Slot | null; lastSlot: (Slot & { state: string | null; board: string }) | null }[] };

describe('ops reads: GET /api/v1/refunds, /api/v1/lookup and /api/v1/schedule', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  /** Keys of this file only: other files of this jest worker share the tables. */
  const tag = `OPS${Date.now().toString(36).toUpperCase()}`;
  const trade = `${tag}T1`;
  const base = Date.parse('2026-11-20T02:00:00Z');

  beforeAll(async () => {
    hub = await openTestHub(__filename);
    const config = testConfig({
      HUB_QUEUE_PREFIX: hub.prefix,
      HUB_API_TOKENS: `crm:${CRM}:business,opsbot:${OPS}:business|ops`,
      ...BOARD_ADMIN_ENV,
      ...BOARD_VIEWER_ENV,
    });
    app = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
    const at = new Date(base);
    await hub.db.getRepository(PaymentOrder).insert({ businessType: 'EVENT', mchid: TEST_MCHID, outTradeNo: trade, amount: 5_000, payerTotal: 5_000, transactionId: null, payStatus: 'REFUNDING', tradeState: 'SUCCESS', successTime: at, createdTime: at, updatedTime: at });
    // Seven refunds of one payment a minute apart (statuses cycling), and one of another payment.
    const statuses: RefundOrderStatus[] = ['REFUNDED', 'REFUNDING', 'REFUND_FAILED'];
    const refund = (i: number, outTradeNo: string) => {
      const created = new Date(base + i * 60_000);
      return { businessType: 'EVENT' as const, outTradeNo, outRefundNo: `${tag}R${i}`, amount: 100 + i, total: 5_000, status: statuses[i % 3] ?? 'REFUNDED', createdTime: created, updatedTime: created };
    };
    await hub.db.getRepository(RefundOrder).insert([...Array.from({ length: 7 }, (_, i) => refund(i, trade)), refund(7, `${tag}T2`)]);
  });
  afterAll(async () => {
    await app.close();
    await hub.close();
  });

  const get = (url: string, authorization = `Bearer ${OPS}`) => app.inject({ method: 'GET', url, headers: { authorization } });

  describe('GET /api/v1/refunds', () => {
    const numbers = (page: RefundPage): number[] => page.refunds.map((r) => Number(r.outRefundNo.slice(`${tag}R`.length)));

    it('lists a payment\'s refunds newest first, paged by id until the end, in the fields of GET /api/v1/refunds/{outRefundNo}', async () => {
      const seen: number[] = [];
      let before = '';
      for (let page = 0; page < 5; page += 1) {
        const res = await get(`/api/v1/refunds?outTradeNo=${trade}&limit=3${before ? `&before=${before}` : ''}`);
        expect(res.statusCode).toBe(200);
        const body = res.json<RefundPage>();
        seen.push(...numbers(body));
        if (!body.nextBefore) break;
        expect(body.nextBefore).toBe(body.refunds.at(-1)?.refundOrderId);
        before = body.nextBefore;
      }
      expect(seen).toEqual([6, 5, 4, 3, 2, 1, 0]);
      const one = (await get(`/api/v1/refunds?outTradeNo=${trade}&limit=1`)).json<RefundPage>().refunds[0];
      const single = (await get(`/api/v1/refunds/${one?.outRefundNo ?? ''}`, `Bearer ${CRM}`)).json<Record<string, unknown>>();
      expect(one).toEqual(single);
      expect(one).toMatchObject({ amount: 106, createdTime: '2026-11-20T02:06:00.000Z' });
    });

    it('a page exactly as long as what is left says it is the last', async () => {
      const body = (await get(`/api/v1/refunds?outTradeNo=${trade}&limit=7`)).json<RefundPage>();
      expect(numbers(body)).toEqual([6, 5, 4, 3, 2, 1, 0]);
      expect(body.nextBefore).toBeNull();
    });

    it('filters by status, out_refund_no and created time (since inclusive, until exclusive; RFC 3339 or Beijing time)', async () => {
      expect(numbers((await get(`/api/v1/refunds?outTradeNo=${trade}&status=REFUND_FAILED`)).json<RefundPage>())).toEqual([5, 2]);
      expect(numbers((await get(`/api/v1/refunds?outRefundNo=${tag}R7`)).json<RefundPage>())).toEqual([7]);
      expect((await get(`/api/v1/refunds?outRefundNo=${tag.toLowerCase()}R7`)).json<RefundPage>().refunds).toEqual([]); // exactly the number given
      const since = encodeURIComponent('2026-11-20T10:02:00+08:00');
      const until = encodeURIComponent('2026-11-20 10:05');
      expect(numbers((await get(`/api/v1/refunds?outTradeNo=${trade}&since=${since}&until=${until}`)).json<RefundPage>())).toEqual([4, 3, 2]);
      expect(numbers((await get(`/api/v1/refunds?since=${encodeURIComponent('2026-11-20 10:06')}&until=${encodeURIComponent('2026-11-20T02:08:00Z')}&outRefundNo=${tag}R6`)).json<RefundPage>())).toEqual([6]);
    });

    it('answers 400 naming the field for a bad query', async () => {
      for (const [query, field] of [['?limit=201', 'limit'], ['?limit=0', 'limit'], ['?since=yesterday', 'since'], ['?until=2026-13-01', 'until'], ['?before=abc', 'before'], ['?status=DONE', 'status'], ['?colour=red', '(query)']] as const) {
        const res = await get(`/api/v1/refunds${query}`);
        expect({ query, status: res.statusCode }).toEqual({ query, status: 400 });
        const body = res.json<{ error: string; message: string; fields: string[] }>();
        expect(body).toMatchObject({ error: 'invalid_query', message: 'invalid query' });
        expect(body.fields.join('\n')).toContain(field);
      }
    });

    it('is for ops: a token scoped ops or the board admin; not a business token, the viewer or nobody', async () => {
      expect((await get(`/api/v1/refunds?outTradeNo=${trade}&limit=1`, basicAuth(BOARD_ADMIN))).statusCode).toBe(200);
      expect((await get('/api/v1/refunds?limit=1', `Bearer ${CRM}`)).statusCode).toBe(403);
      expect((await get('/api/v1/refunds?limit=1', basicAuth(BOARD_VIEWER))).statusCode).toBe(403);
      expect((await get('/api/v1/refunds?limit=1', 'Bearer not-a-token-000000000')).statusCode).toBe(401);
      expect((await app.inject({ method: 'GET', url: '/api/v1/refunds' })).statusCode).toBe(401);
    });
  });

  describe('GET /api/v1/lookup', () => {
    const lookup = async (key: string): Promise<Lookup> => {
      const res = await get(`/api/v1/lookup?key=${encodeURIComponent(key)}`);
      expect([key, res.statusCode]).toEqual([key, 200]);
      return res.json<Lookup>();
    };

    it('finds a job by its id in whichever queue holds it, with its state and board link', async () => {
      const { id } = await hub.enqueue(smsCodeCleanup, {}, { jobId: `${tag}-cleanup` });
      const body = await lookup(id);
      expect(body.matches).toEqual([
        { kind: 'job', summary: `job sms-code-cleanup on queue ops: waiting`, links: { board: `/admin/queues/queue/ops/${id}` }, detail: expect.objectContaining({ id, queue: 'ops', name: 'sms-code-cleanup', state: 'waiting', attemptsMade: 0 }) },
      ]);
      const board = await app.inject({ method: 'GET', url: `/admin/queues/api/queues/ops/${id}`, headers: { authorization: basicAuth(BOARD_ADMIN) } });
      expect(board.statusCode).toBe(200); // the link names a job the dashboard serves
    });

    it('finds a refund by out_refund_no, with its API link and, while Redis holds it, its submit job', async () => {
      const outRefundNo = `${tag}R7`;
      expect((await lookup(outRefundNo)).matches).toEqual([
        { kind: 'refund', summary: `refund ${outRefundNo} of payment ${tag}T2: 107 fen, REFUNDING`, links: { api: `/api/v1/refunds/${outRefundNo}` }, detail: expect.objectContaining({ outRefundNo, amount: 107, status: 'REFUNDING' }) },
      ]);
      await hub.enqueue(refundSubmit, { outRefundNo }, { jobId: refundJobId(outRefundNo) });
      expect((await lookup(outRefundNo)).matches.find((m) => m.kind === 'refund')?.links).toEqual({ api: `/api/v1/refunds/${outRefundNo}`, board: `/admin/queues/queue/refunds/${refundJobId(outRefundNo)}` });
      // And the job id itself finds the job.
      expect((await lookup(refundJobId(outRefundNo))).matches.map((m) => [m.kind, m.detail.queue])).toEqual([['job', 'refunds']]);
    });

    it('finds a payment by out_trade_no with its refunds, each linked', async () => {
      const [match, ...rest] = (await lookup(trade)).matches;
      expect(rest).toEqual([]);
      expect(match).toMatchObject({ kind: 'payment', summary: `payment ${trade}: 5000 fen, REFUNDING; 7 refunds`, links: {}, detail: { outTradeNo: trade, amount: 5_000, payStatus: 'REFUNDING' } });
      const refunds = match?.detail.refunds as { outRefundNo: string; api: string }[];
      expect(refunds.map((r) => r.outRefundNo)).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `${tag}R${i}`));
      expect(refunds[0]?.api).toBe(`/api/v1/refunds/${tag}R0`);
    });

    it('finds a message delivery by its delivery key, linked to its job, never showing the recipient', async () => {
      const deliveryKey = `${tag}:sms:welcome`;
      const at = new Date();
      await hub.db.getRepository(HubMessageDelivery).insert({ deliveryKey, channel: 'sms', recipient: '13800138000', status: 'SENT', jobName: 'sms-send', jobId: `${tag}-sms`, payload: { deliveryKey }, provider: 'aliyun', attempts: 1, sentTime: at, createdTime: at, updatedTime: at });
      const res = await get(`/api/v1/lookup?key=${encodeURIComponent(deliveryKey)}`);
      expect(res.body).not.toContain('13800138000');
      expect(res.json<Lookup>().matches).toEqual([
        { kind: 'delivery', summary: `sms delivery ${deliveryKey}: SENT`, links: { board: `/admin/queues/queue/sms/${tag}-sms` }, detail: expect.objectContaining({ channel: 'sms', status: 'SENT', jobName: 'sms-send', provider: 'aliyun' }) },
      ]);
    });

    it('answers 404 when nothing has the key, 400 without one, and is for ops only', async () => {
      const missing = await get(`/api/v1/lookup?key=${tag}-nothing`);
      expect([missing.statusCode, missing.json<{ error: string }>().error]).toEqual([404, 'not_found']);
      const bad = await get('/api/v1/lookup');
      expect([bad.statusCode, bad.json<{ fields: string[] }>().fields.join()]).toEqual([400, expect.stringContaining('key')]);
      expect((await get(`/api/v1/lookup?key=${trade}`, `Bearer ${CRM}`)).statusCode).toBe(403);
      expect((await get(`/api/v1/lookup?key=${trade}`, basicAuth(BOARD_ADMIN))).statusCode).toBe(200);
    });
  });

  describe('GET /api/v1/schedule', () => {
    it('lists every schedule with its next slot after now and its last slot at or before now, with slot job ids', async () => {
      const before = Date.now();
      const res = await get('/api/v1/schedule');
      expect(res.statusCode).toBe(200);
      const body = res.json<ScheduleAnswer>();
      expect(body.schedules.map((s) => [s.job, s.queue, s.cron])).toEqual(SCHEDULES.map((s) => [s.job.name, s.job.queue, s.cron]));
      for (const s of body.schedules) {
        expect([s.job, s.timezone]).toEqual([s.job, 'Asia/Shanghai']);
        const next = Date.parse(s.nextSlot?.at ?? '');
        const last = Date.parse(s.lastSlot?.at ?? '');
        expect([s.job, next > before - 1_000, last <= Date.parse(body.now), next > last]).toEqual([s.job, true, true, true]);
        expect(s.lastSlot?.jobId).toMatch(new RegExp(`^${s.job}@\\d{12}$`));
        expect(s.lastSlot?.board).toBe(`/admin/queues/queue/${s.queue}/${encodeURIComponent(s.lastSlot?.jobId ?? '')}`);
      }
      // A minute pattern's slots are a minute apart; a nightly one's a day apart, at its minute in Beijing time.
      const minutely = body.schedules.find((s) => s.job === 'refund-sync');
      expect(Date.parse(minutely?.nextSlot?.at ?? '') - Date.parse(minutely?.lastSlot?.at ?? '')).toBe(60_000);
      const nightly = body.schedules.find((s) => s.job === 'hub-retention');
      expect(Date.parse(nightly?.nextSlot?.at ?? '') - Date.parse(nightly?.lastSlot?.at ?? '')).toBe(24 * 3_600_000);
      expect(nightly?.lastSlot?.beijing).toMatch(/ 03:40:00$/);
      expect(nightly?.lastSlot?.jobId.slice(-4)).toBe('0340');
    });

    it('reads the last slot\'s job from its queue: null before the clock enqueued it, its state after', async () => {
      const nightly = async () => (await get('/api/v1/schedule', basicAuth(BOARD_ADMIN))).json<ScheduleAnswer>().schedules.find((s) => s.job === 'hub-retention')?.lastSlot;
      const first = await nightly();
      expect(first?.state).toBeNull();
      // What the clock enqueues for that slot: the job under the slot's id.
      const def = registry.get('hub-retention');
      if (!def) throw new Error('hub-retention is not in the registry');
      await hub.enqueue(def, {}, { jobId: first?.jobId ?? '' });
      expect(await nightly()).toEqual({ ...first, state: 'waiting' });
      expect((await get('/api/v1/schedule', `Bearer ${CRM}`)).statusCode).toBe(403);
      expect((await app.inject({ method: 'GET', url: '/api/v1/schedule' })).statusCode).toBe(401);
    });

    it('names the slots the clock itself enqueues: after a real clock\'s start catch-up, each last slot it saw is in its queue', async () => {
      const started = new Date();
      const clock = startClock({ enqueue: hub.enqueue, redis: hub.redis, keys: hub.queues.keys, log: hub.log, now: () => started }, SCHEDULES);
      try {
        await clock.settled();
      } finally {
        await clock.stop();
      }
      const body = (await get('/api/v1/schedule')).json<ScheduleAnswer>();
      // A slot that began after the clock's start (a minute turning meanwhile) is one it never saw.
      const seen = body.schedules.filter((s) => Date.parse(s.lastSlot?.at ?? '') <= started.getTime());
      expect(seen.map((s) => s.job)).toEqual(expect.arrayContaining(['hub-retention', 'wechat-pay-reconcile-bill', 'school-sync']));
      for (const s of seen) expect([s.job, s.lastSlot?.state]).toEqual([s.job, 'waiting']);
    });
  });
});
