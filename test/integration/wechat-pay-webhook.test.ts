import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { NO_INTEGRATIONS, type Integrations } from '../../integrations';
import { LiveWechatPayClient } from '../../integrations/wechat-pay/wechat-pay.live';
import { createMerchants } from '../../integrations/wechat-pay/wechat-pay.merchants';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import { registry } from '../../jobs';
import { closeRedis, createRedis, waitForRedis } from '../../lib/redis';
import { buildApp } from '../../server/app';
import { QueueSet } from '../../workers/queues';
import { payNotifySweeper } from '../../workers/pay-notify-sweeper';
import { sweepOnce } from '../../workers/sweeper';
import { clearTables } from '../support/db';
import { TEST_REDIS_URL } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { track } from '../support/resources';
import { startTcpProxy } from '../support/tcp-proxy';
import { TEST_MCHID } from '../support/wechat-pay';

/** A callback exactly as WeChat's side (the emulator) sent it: the bytes and the headers. */
interface Captured {
  headers: Record<string, string>;
  body: Buffer;
}

/** A tiny notify_url that keeps every callback it is sent and answers 204. */
async function startCapture(): Promise<{ url: string; captured: Captured[]; close(): Promise<void> }> {
  const captured: Captured[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      captured.push({ headers: flatten(req.headers), body: Buffer.concat(chunks) });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/notify`, captured, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') out[k] = v;
  return out;
}

describe('POST /webhooks/wechat-pay/:mchid', () => {
  let hub: TestHub;
  let app: FastifyInstance;
  let capture: Awaited<ReturnType<typeof startCapture>>;
  const extraApps: FastifyInstance[] = [];
  let seq = 0;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { wechatPay: { callbackRetryDelaysMs: [100, 200, 400] } });
    app = await buildApp({ config: hub.config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry, integrations: hub.integrations });
    capture = await startCapture();
    hub.wechatPay?.emulator.setNotifyUrl(TEST_MCHID, capture.url);
  });
  afterAll(async () => {
    for (const a of extraApps) await a.close();
    await app.close();
    await capture.close();
    await clearTables(hub.db, [PayNotifyLog]);
    await hub.close();
  });
  beforeEach(() => clearTables(hub.db, [PayNotifyLog]));

  const wechat = () => {
    if (!hub.wechatPay) throw new Error('no emulator');
    return hub.wechatPay;
  };

  /** A real, emulator-signed TRANSACTION.SUCCESS callback of a fresh order. */
  async function realCallback(outTradeNo = `WH${Date.now()}${++seq}`): Promise<Captured & { outTradeNo: string }> {
    const before = capture.captured.length;
    wechat().emulator.createOrder({ mchid: TEST_MCHID, out_trade_no: outTradeNo, total: 100 });
    wechat().emulator.pay(outTradeNo);
    await wechat().emulator.callbacksSettled();
    const got = capture.captured[before];
    if (!got) throw new Error('no callback captured');
    return { ...got, outTradeNo };
  }

  /** As WeChat would send it; the length is the body's own, so a tampered body reaches the route. */
  const post = (target: FastifyInstance, c: Captured, mchid = TEST_MCHID) => {
    const headers = Object.fromEntries(Object.entries(c.headers).filter(([k]) => k !== 'content-length'));
    return target.inject({ method: 'POST', url: `/webhooks/wechat-pay/${mchid}`, headers, payload: c.body });
  };
  const rows = () => hub.db.getRepository(PayNotifyLog).find({ order: { id: 'ASC' } });
  const jobOf = (id: string) => hub.queues.get('payments').getJob(`wechat-notify-${id}`);

  /** The app with another client for the same merchant: one whose clock or APIv3 key differs. */
  async function appWith(options: { nowOffsetMs?: number; apiV3Key?: string }): Promise<FastifyInstance> {
    const credentials = { ...wechat().credentials, ...(options.apiV3Key ? { apiV3Key: options.apiV3Key } : {}) };
    const client = new LiveWechatPayClient(credentials, {
      baseUrl: wechat().emulator.baseUrl,
      timeoutMs: 5_000,
      now: () => new Date(Date.now() + (options.nowOffsetMs ?? 0)),
    });
    const integrations: Integrations = {
      ...NO_INTEGRATIONS,
      wechatPay: createMerchants({ defaultClient: client, db: hub.db, makeClient: () => client, log: hub.log }),
    };
    const other = await buildApp({ config: hub.config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry, integrations });
    extraApps.push(other);
    return other;
  }

  it('accepts a verified callback: 204, one pay_notify_log row with the raw body, its job enqueued', async () => {
    const c = await realCallback();
    const res = await post(app, c);
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    const [row, ...more] = await rows();
    expect(more).toHaveLength(0);
    const envelope = JSON.parse(c.body.toString('utf8')) as { id: string };
    expect(row).toMatchObject({
      channel: 'WECHAT',
      merchant: TEST_MCHID,
      notifyId: envelope.id,
      eventType: 'TRANSACTION.SUCCESS',
      outTradeNo: c.outTradeNo,
      transactionId: wechat().emulator.order(c.outTradeNo)?.transaction_id,
      rawBody: c.body.toString('utf8'),
      verified: 1,
      handled: 0,
    });
    const job = await jobOf(row?.id ?? '');
    expect(job?.name).toBe('wechat-pay-handle-notification');
    expect(job?.data).toEqual({ notifyLogId: row?.id });
  });

  it('tolerates a charset on the content type', async () => {
    const c = await realCallback();
    const res = await post(app, { ...c, headers: { ...c.headers, 'content-type': 'application/json; charset=UTF-8' } });
    expect(res.statusCode).toBe(204);
    expect(await rows()).toHaveLength(1);
  });

  it('stores a notification delivered twice once, and enqueues it again only while unhandled', async () => {
    const c = await realCallback();
    expect((await post(app, c)).statusCode).toBe(204);
    expect((await post(app, c)).statusCode).toBe(204);
    const [row, ...more] = await rows();
    expect(more).toHaveLength(0);
    const id = row?.id ?? '';

    // Its job gone (done and removed, or lost): a redelivery of an unhandled row adds it again.
    await (await jobOf(id))?.remove();
    expect(await jobOf(id)).toBeUndefined();
    expect((await post(app, c)).statusCode).toBe(204);
    expect(await jobOf(id)).toBeDefined();

    // Once handled, a redelivery is answered at once and enqueues nothing.
    await (await jobOf(id))?.remove();
    await hub.db.getRepository(PayNotifyLog).update({ id }, { handled: 1 });
    expect((await post(app, c)).statusCode).toBe(204);
    expect(await jobOf(id)).toBeUndefined();
    expect(await rows()).toHaveLength(1);
  });

  const refusals: [string, (c: Captured) => Captured, number][] = [
    ['a forged signature', (c) => ({ ...c, headers: { ...c.headers, 'wechatpay-signature': Buffer.alloc(256, 7).toString('base64') } }), 401],
    ['an unknown serial', (c) => ({ ...c, headers: { ...c.headers, 'wechatpay-serial': 'PUB_KEY_ID_0000000000000000000000000000000000' } }), 401],
    ['a SIGNTEST probe', (c) => ({ ...c, headers: { ...c.headers, 'wechatpay-signature': `WECHATPAY/SIGNTEST/${c.headers['wechatpay-signature'] ?? ''}` } }), 401],
    ['a missing timestamp', (c) => ({ ...c, headers: Object.fromEntries(Object.entries(c.headers).filter(([k]) => k !== 'wechatpay-timestamp')) }), 401],
    ['a timestamp moved back past the window', (c) => ({ ...c, headers: { ...c.headers, 'wechatpay-timestamp': String(Math.floor(Date.now() / 1000) - 301) } }), 401],
    ['a tampered body', (c) => ({ ...c, body: Buffer.from(c.body.toString('utf8').replace('"summary":"', '"summary":"x')) }), 401],
    ['an empty body', (c) => ({ ...c, body: Buffer.alloc(0) }), 401],
  ];

  it.each(refusals)('refuses %s: 4xx {"code":"FAIL"}, nothing stored, one warning', async (_what, alter, status) => {
    const c = await realCallback();
    const logBefore = hub.logText().length;
    const res = await post(app, alter(c));
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({ code: 'FAIL', message: expect.any(String) });
    expect(await rows()).toHaveLength(0);
    const logged = hub.logText().slice(logBefore);
    expect(logged).toMatch(/wechat pay callback refused/);
    expect(logged).not.toContain(c.body.toString('utf8').slice(0, 60));
  });

  it('refuses with 400 a signed callback whose ids pay_notify_log cannot hold, storing nothing cut', async () => {
    const c = await realCallback(`WH${Date.now()}${++seq}${'9'.repeat(60)}`);
    const res = await post(app, c);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ code: 'FAIL', message: 'notification rejected' });
    expect(await rows()).toHaveLength(0);
    expect(hub.logText()).toMatch(/"fields":\["outTradeNo"\].*"msg":"wechat pay callback refused: ids longer than pay_notify_log holds"/);
  });

  it('refuses a genuinely signed callback older than 300 s (stale) with 401', async () => {
    const c = await realCallback();
    const late = await appWith({ nowOffsetMs: 301_000 });
    const res = await post(late, c);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'FAIL' });
    expect(await rows()).toHaveLength(0);
  });

  it('refuses a signed callback whose resource cannot be decrypted with 400', async () => {
    const c = await realCallback();
    const wrongKey = await appWith({ apiV3Key: 'k'.repeat(32) });
    const res = await post(wrongKey, c);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'FAIL' });
    expect(await rows()).toHaveLength(0);
  });

  it('answers 404 FAIL for a merchant it does not have', async () => {
    const c = await realCallback();
    const res = await post(app, c, '1999999999');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'FAIL' });
    expect(await rows()).toHaveLength(0);
  });

  it('answers 503 when the job cannot be enqueued, keeps the row, and the sweeper enqueues it later', async () => {
    const redisUrl = new URL(TEST_REDIS_URL);
    const proxy = await startTcpProxy(redisUrl.hostname, Number(redisUrl.port || 6379));
    const redis = track({ kind: 'redis', value: createRedis(`redis://127.0.0.1:${proxy.port}`, 'producer') });
    await waitForRedis(redis);
    const queues = new QueueSet(redis, hub.prefix);
    const cut = await buildApp({ config: hub.config, log: hub.log, db: hub.db, redis, queues, registry, integrations: hub.integrations });
    try {
      const c = await realCallback();
      await proxy.cut();
      const res = await post(cut, c);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ code: 'FAIL' });
      const [row, ...more] = await rows();
      expect(more).toHaveLength(0);
      expect(row).toMatchObject({ verified: 1, handled: 0 });
      expect(await jobOf(row?.id ?? '')).toBeUndefined();

      // Too young for the sweeper: it may still be on its way.
      const deps = { db: hub.db, redis: hub.redis, queues: hub.queues, registry, log: hub.log };
      expect(await sweepOnce({ ...deps, now: () => new Date() }, payNotifySweeper)).toBe(0);
      expect(await sweepOnce({ ...deps, now: () => new Date(Date.now() + 61_000) }, payNotifySweeper)).toBe(1);
      expect((await jobOf(row?.id ?? ''))?.data).toEqual({ notifyLogId: row?.id });
      expect(await sweepOnce({ ...deps, now: () => new Date(Date.now() + 61_000) }, payNotifySweeper)).toBe(0);
    } finally {
      await proxy.restore();
      await waitForRedis(redis, 15_000).catch(() => undefined);
      await cut.close();
      await queues.close();
      await closeRedis(redis);
      await proxy.close();
    }
  });
});
