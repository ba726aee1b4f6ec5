import { AppleOrder } from '../../entities/app/apple-order.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import type { AppleChain } from '../../integrations/apple/emulator/apple.emulator';
import { registry } from '../../jobs';
import { closeRedis, createRedis, waitForRedis } from '../../lib/redis';
import { buildApp } from '../../server/app';
import { QueueSet } from '../../workers/queues';
import { payNotifySweeper } from '../../workers/pay-notify-sweeper';
import { sweepOnce } from '../../workers/sweeper';
import { appleIntegrationFor } from '../support/apple';
import { TEST_REDIS_URL } from '../support/env';
import { track } from '../support/resources';
import { startTcpProxy } from '../support/tcp-proxy';
import { openAppleHub, PRODUCTS, type AppleHub } from './apple-fixtures';

/** The body of a JWS, decoded: what the emulator signed. */
function decodePayload(jws: string): Record<string, unknown> {
  const part = jws.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('POST /webhooks/apple', () => {
  let a: AppleHub;

  beforeAll(async () => {
    a = await openAppleHub(__filename, { workers: false });
  });
  afterAll(() => a.close());
  beforeEach(async () => {
    await a.reset();
    await a.hub.queues.get('payments').obliterate({ force: true });
  });

  const rows = () => a.hub.db.getRepository(PayNotifyLog).find({ order: { id: 'ASC' } });
  const jobOf = (id: string) => a.hub.queues.get('payments').getJob(`apple-notify-${id}`);
  const post = (signedPayload: string, app = a.app) => app.inject({ method: 'POST', url: '/webhooks/apple', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ signedPayload }) });
  /** A subscription bought at the emulator whose notification the test posts itself. */
  const bought = (o: { environment?: 'Production' | 'Sandbox' } = {}) => {
    const r = a.emulator.subscribe({ productId: PRODUCTS.monthly.productId, deliver: false, ...o });
    const sent = r.sent[0];
    if (!sent) throw new Error('emulator sent nothing');
    return { ...r, notification: sent };
  };

  it('stores a verified notification once, enqueues apple-notify-<row id> and answers 200', async () => {
    const { notification, transactionId } = bought();
    const res = await post(notification.signedPayload);
    expect(res.statusCode).toBe(200);
    const [row, ...more] = await rows();
    expect(more).toHaveLength(0);
    expect(row).toMatchObject({
      channel: 'APPLE',
      merchant: a.apple.bundleId,
      notifyId: notification.notificationUUID,
      eventType: 'SUBSCRIBED/INITIAL_BUY',
      transactionId,
      verified: 1,
      handled: 0,
      rawBody: JSON.stringify({ signedPayload: notification.signedPayload }),
    });
    expect((await jobOf(row?.id ?? ''))?.data).toEqual({ payNotifyLogId: row?.id });
  });

  const refusals: [string, (payload: Record<string, unknown>, signed: string) => string][] = [
    ...(['untrustedRoot', 'missingLeafOid', 'missingIntermediateOid', 'twoCertificates', 'expiredLeaf'] as AppleChain[]).map(
      (chain): [string, (payload: Record<string, unknown>, signed: string) => string] => [`a ${chain} chain`, (payload) => a.emulator.signNotification(payload, chain)],
    ),
    [
      'a tampered payload',
      (payload, signed) => {
        const [head, , sig] = signed.split('.');
        const forged = Buffer.from(JSON.stringify({ ...payload, notificationType: 'REFUND' })).toString('base64url');
        return `${head ?? ''}.${forged}.${sig ?? ''}`;
      },
    ],
    ['another bundle', (payload) => a.emulator.signNotification({ ...payload, data: { ...(payload.data as object), bundleId: 'com.example.other' } })],
    ['another app of the bundle', (payload) => a.emulator.signNotification({ ...payload, data: { ...(payload.data as object), appAppleId: 42 } })],
    ['not a JWS at all', () => 'not-a-jws'],
  ];
  it.each(refusals)('refuses %s with 401 and writes nothing', async (_name, forge) => {
    const { notification } = bought();
    const res = await post(forge(decodePayload(notification.signedPayload), notification.signedPayload));
    expect(res.statusCode).toBe(401);
    expect(await rows()).toHaveLength(0);
    expect(await a.hub.queues.get('payments').getJobCounts('waiting', 'delayed', 'prioritized')).toEqual({ waiting: 0, delayed: 0, prioritized: 0 });
    expect(a.hub.logText()).toMatch(/app store notification refused/);
  });

  it('refuses with 400 a signed notification whose notificationUUID pay_notify_log cannot hold, never storing it cut', async () => {
    const { notification } = bought();
    const long = a.emulator.signNotification({ ...decodePayload(notification.signedPayload), notificationUUID: `${notification.notificationUUID}-${'u'.repeat(40)}` });
    const res = await post(long);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'APPLE_NOTIFICATION', message: expect.stringContaining('notifyId') });
    expect(await rows()).toHaveLength(0);
  });

  it('refuses a body that is not {"signedPayload"} with 400', async () => {
    const res = await a.app.inject({ method: 'POST', url: '/webhooks/apple', headers: { 'content-type': 'application/json' }, payload: '{"signed":1}' });
    expect(res.statusCode).toBe(400);
    expect(await rows()).toHaveLength(0);
  });

  it('refuses a Sandbox notification where only Production is accepted', async () => {
    const productionOnly = await buildApp({
      config: a.hub.config,
      log: a.hub.log,
      db: a.hub.db,
      redis: a.hub.redis,
      queues: a.hub.queues,
      registry,
      integrations: { ...a.hub.integrations, apple: appleIntegrationFor(a.emulator, { environments: ['Production'] }) },
    });
    try {
      const { notification } = bought({ environment: 'Sandbox' });
      expect((await post(notification.signedPayload, productionOnly)).statusCode).toBe(401);
      expect(await rows()).toHaveLength(0);
      // The hub that also accepts Sandbox (App Review) takes it, and says so on the row's job later.
      expect((await post(notification.signedPayload)).statusCode).toBe(200);
      expect(await rows()).toHaveLength(1);
    } finally {
      await productionOnly.close();
    }
  });

  it('stores a duplicate once, sequentially and concurrently; a duplicate of an unhandled row enqueues it again', async () => {
    const { notification } = bought();
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(notification.signedPayload)));
    expect(answers.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
    const [row, ...more] = await rows();
    expect(more).toHaveLength(0);
    const id = row?.id ?? '';
    await (await jobOf(id))?.remove();
    expect(await jobOf(id)).toBeUndefined();
    expect((await post(notification.signedPayload)).statusCode).toBe(200);
    expect((await jobOf(id))?.data).toEqual({ payNotifyLogId: id });
    expect(await rows()).toHaveLength(1);

    // Once handled, a duplicate is acknowledged and nothing is enqueued.
    await (await jobOf(id))?.remove();
    await a.hub.db.getRepository(PayNotifyLog).update({ id }, { handled: 1 });
    expect((await post(notification.signedPayload)).statusCode).toBe(200);
    expect(await jobOf(id)).toBeUndefined();
  });

  it('acknowledges a TEST notification: stored handled, no job', async () => {
    const sent = a.emulator.sendTest({ deliver: false }).sent[0];
    expect((await post(sent?.signedPayload ?? '')).statusCode).toBe(200);
    const [row] = await rows();
    expect(row).toMatchObject({ eventType: 'TEST', handled: 1, transactionId: null });
    expect(await jobOf(row?.id ?? '')).toBeUndefined();
  });

  it('answers 503 when the job cannot be enqueued, keeps the row, and the sweeper enqueues the Apple job later', async () => {
    // A producer whose Redis connection is cut: the route cannot enqueue.
    const target = new URL(TEST_REDIS_URL);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    const cutRedis = track({ kind: 'redis', value: createRedis(`redis://127.0.0.1:${proxy.port}`, 'producer') });
    await waitForRedis(cutRedis);
    const queues = new QueueSet(cutRedis, a.hub.prefix);
    const cut = await buildApp({ config: a.hub.config, log: a.hub.log, db: a.hub.db, redis: cutRedis, queues, registry, integrations: a.hub.integrations });
    try {
      const { notification } = bought();
      await proxy.cut();
      expect((await post(notification.signedPayload, cut)).statusCode).toBe(503);
    } finally {
      await proxy.restore();
      await waitForRedis(cutRedis, 15_000).catch(() => undefined);
      await cut.close();
      await queues.close();
      await closeRedis(cutRedis);
      await proxy.close();
    }
    const [row, ...more] = await rows();
    expect(more).toHaveLength(0);
    expect(row).toMatchObject({ channel: 'APPLE', verified: 1, handled: 0 });
    const id = row?.id ?? '';
    expect(await jobOf(id)).toBeUndefined();

    const sweep = (aheadMs: number) => sweepOnce({ db: a.hub.db, redis: a.hub.redis, queues: a.hub.queues, registry, log: a.hub.log, now: () => new Date(Date.now() + aheadMs) }, payNotifySweeper);
    // Too young for the sweeper: it may still be on its way to Redis.
    expect(await sweep(0)).toBe(0);
    expect(await sweep(61_000)).toBe(1);
    const job = await jobOf(id);
    expect([job?.name, job?.data]).toEqual(['apple-handle-notification', { payNotifyLogId: id }]);
    expect(await sweep(61_000)).toBe(0);
    expect(await a.hub.db.getRepository(AppleOrder).count()).toBe(0);
  });
});
