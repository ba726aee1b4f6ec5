import type { FastifyInstance } from 'fastify';
import { registry } from '../../jobs';
import { waitForRedis } from '../../lib/redis';
import { buildApp } from '../../server/app';
import { testConfig } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { openPrivateQueueStore } from '../support/private-redis';
import { deletePrefix } from '../support/queues';
import { basicAuth, BOARD_ADMIN, BOARD_VIEWER } from '../support/board';

const ADMIN = BOARD_ADMIN;
const VIEWER = BOARD_VIEWER;
const basic = (username: string, password: string): string => basicAuth({ username, password });
const WRONG = 'Wrong-Guess-7781';

describe('dashboard login throttling (Redis, shared by every web replica)', () => {
  let hub: TestHub;
  const apps: FastifyInstance[] = [];

  beforeAll(async () => {
    hub = await openTestHub(__filename);
  });
  beforeEach(async () => {
    await deletePrefix(hub.redis, `${hub.prefix}:board-login`);
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await hub.close();
  });

  /** Replicas built from the same settings share their counts through Redis, as web processes do. */
  async function webApp(env: Record<string, string> = {}): Promise<FastifyInstance> {
    const config = testConfig({
      HUB_QUEUE_PREFIX: hub.prefix,
      BOARD_USERNAME: ADMIN.username,
      BOARD_PASSWORD: ADMIN.password,
      BOARD_VIEWER_USERNAME: VIEWER.username,
      BOARD_VIEWER_PASSWORD: VIEWER.password,
      BOARD_LOGIN_MAX_FAILURES_PER_USER: '3',
      BOARD_LOGIN_MAX_FAILURES_PER_ADDRESS: '5',
      BOARD_LOGIN_WINDOW_MS: '60000',
      ...env,
    });
    const app = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
    apps.push(app);
    return app;
  }

  const login = (app: FastifyInstance, address: string, authorization: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'GET', url: '/admin/queues/api/queues', remoteAddress: address, headers: { authorization, ...headers } });

  const failuresMetric = async (app: FastifyInstance, reason: string): Promise<number> => {
    const body = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    const match = new RegExp(`^jobhub_board_login_failures_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(body);
    return Number(match?.[1] ?? 0);
  };

  it('locks a user name after its failures, from any address and on any replica, the right password included; others still log in', async () => {
    const [one, two] = [await webApp(), await webApp()];
    if (!one || !two) throw new Error('no app');
    // Three guesses from three addresses over two replicas: the name's count is one.
    for (const [app, address] of [[one, '203.0.113.1'], [two, '203.0.113.2'], [one, '203.0.113.3']] as const) {
      expect((await login(app, address, basic(ADMIN.username, WRONG))).statusCode).toBe(401);
    }
    const locked = await login(two, '203.0.113.4', basic(ADMIN.username, WRONG));
    expect(locked.statusCode).toBe(429);
    const retryAfter = Number(locked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(locked.json()).toEqual({ error: 'too_many_login_failures', message: expect.stringMatching(/retry in \d+ s$/), retryAfterS: retryAfter });
    expect(locked.headers['www-authenticate']).toBeUndefined();

    // The right password does not get through either: otherwise guessing would go on.
    expect((await login(one, '203.0.113.5', basic(ADMIN.username, ADMIN.password))).statusCode).toBe(429);
    // Another user, from another address, is not held up.
    expect((await login(two, '198.51.100.1', basic(VIEWER.username, VIEWER.password))).statusCode).toBe(200);
  });

  it('locks an address after its failures under any names, the right credentials included; other addresses still log in', async () => {
    const app = await webApp();
    for (let i = 0; i < 5; i++) {
      expect((await login(app, '192.0.2.10', basic(`guess-${i}`, WRONG))).statusCode).toBe(401);
    }
    // A malformed header is a failed attempt too.
    const sixth = await login(app, '192.0.2.10', 'Basic !!!');
    expect(sixth.statusCode).toBe(429);
    expect(Number(sixth.headers['retry-after'])).toBeGreaterThan(0);
    expect((await login(app, '192.0.2.10', basic(VIEWER.username, VIEWER.password))).statusCode).toBe(429);
    expect((await login(app, '192.0.2.11', basic(VIEWER.username, VIEWER.password))).statusCode).toBe(200);
    // The first, credential-less request of a browser is no guess: it is asked for credentials, not counted.
    for (let i = 0; i < 10; i++) expect((await app.inject({ method: 'GET', url: '/admin/queues', remoteAddress: '192.0.2.12' })).statusCode).toBe(401);
    expect((await login(app, '192.0.2.12', basic(ADMIN.username, ADMIN.password))).statusCode).toBe(200);
  });

  it('counts the clients of an IPv6 /64 as one address', async () => {
    const app = await webApp();
    for (let i = 1; i <= 5; i++) {
      expect((await login(app, `2001:db8:1:2::${i}`, basic(`v6-${i}`, WRONG))).statusCode).toBe(401);
    }
    expect((await login(app, '2001:db8:1:2:ffff::9', basic(VIEWER.username, VIEWER.password))).statusCode).toBe(429);
    expect((await login(app, '2001:db8:1:3::1', basic(VIEWER.username, VIEWER.password))).statusCode).toBe(200);
  });

  it('lets a name and an address in again once the window has passed', async () => {
    const app = await webApp({ BOARD_LOGIN_WINDOW_MS: '1000', BOARD_LOGIN_MAX_FAILURES_PER_ADDRESS: '3' });
    for (let i = 0; i < 3; i++) await login(app, '203.0.113.50', basic(ADMIN.username, WRONG));
    for (const account of [ADMIN, VIEWER]) {
      const locked = await login(app, '203.0.113.50', basic(account.username, account.password));
      expect(locked.statusCode).toBe(429);
      expect(locked.headers['retry-after']).toBe('1');
    }
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await login(app, '203.0.113.50', basic(ADMIN.username, ADMIN.password))).statusCode).toBe(200);
  });

  it('lets no more guesses through than the limit when they all arrive at once', async () => {
    const app = await webApp();
    const answers = await Promise.all(Array.from({ length: 40 }, () => login(app, '203.0.113.60', basic(ADMIN.username, WRONG))));
    const statuses = answers.map((a) => a.statusCode);
    expect(statuses.filter((s) => s === 401)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(37);
  });

  it('logs each failure with the user name and the address, never the password, and counts it by reason', async () => {
    const app = await webApp();
    const [badBefore, throttledBefore] = [await failuresMetric(app, 'bad_credentials'), await failuresMetric(app, 'throttled')];
    for (let i = 0; i < 4; i++) await login(app, '198.51.100.77', basic(ADMIN.username, WRONG));
    expect(await failuresMetric(app, 'bad_credentials')).toBe(badBefore + 3);
    expect(await failuresMetric(app, 'throttled')).toBe(throttledBefore + 1);

    const lines = hub.logText().split('\n').filter((l) => l.includes('"ip":"198.51.100.77"'));
    const failed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'dashboard login failed');
    expect(failed.map((l) => [l.username, l.reason])).toEqual([
      [ADMIN.username, 'bad_credentials'],
      [ADMIN.username, 'bad_credentials'],
      [ADMIN.username, 'bad_credentials'],
      [ADMIN.username, 'throttled'],
    ]);
    expect(failed[2]).toMatchObject({ level: 'warn', failures: { user: 3, address: 3 } });
    expect(hub.logText()).not.toContain(WRONG);
    expect(hub.logText()).not.toContain(Buffer.from(`${ADMIN.username}:${WRONG}`).toString('base64'));
  });

  it('counts behind a trusted proxy by the client its X-Forwarded-For names, and ignores that header from anyone else', async () => {
    const proxied = await webApp({ HUB_TRUSTED_PROXIES: '10.0.0.0/8' });
    for (let i = 0; i < 5; i++) {
      await login(proxied, '10.1.2.3', basic(`p-${i}`, WRONG), { 'x-forwarded-for': '203.0.113.80' });
    }
    expect((await login(proxied, '10.1.2.3', basic(VIEWER.username, VIEWER.password), { 'x-forwarded-for': '203.0.113.80' })).statusCode).toBe(429);
    expect((await login(proxied, '10.1.2.3', basic(VIEWER.username, VIEWER.password), { 'x-forwarded-for': '203.0.113.81' })).statusCode).toBe(200);

    // Not a trusted proxy: a forged header changes nothing, the peer's address is counted.
    const direct = await webApp();
    for (let i = 0; i < 5; i++) {
      await login(direct, '192.0.2.90', basic(`d-${i}`, WRONG), { 'x-forwarded-for': `198.51.100.${i}` });
    }
    expect((await login(direct, '192.0.2.90', basic(VIEWER.username, VIEWER.password), { 'x-forwarded-for': '198.51.100.200' })).statusCode).toBe(429);
  });

  it('fails closed while Redis is unreachable: 503 with Retry-After, even for the right credentials', async () => {
    const store = await openPrivateQueueStore(hub.prefix);
    try {
      const config = testConfig({ HUB_QUEUE_PREFIX: hub.prefix, BOARD_USERNAME: ADMIN.username, BOARD_PASSWORD: ADMIN.password });
      const app = await buildApp({ config, log: hub.log, db: hub.db, redis: store.producer, queues: store.queues, registry });
      try {
        expect((await login(app, '192.0.2.200', basic(ADMIN.username, ADMIN.password))).statusCode).toBe(200);
        await store.server.stop();
        for (const password of [ADMIN.password, WRONG]) {
          const res = await login(app, '192.0.2.200', basic(ADMIN.username, password));
          expect(res.statusCode).toBe(503);
          expect(res.headers['retry-after']).toBe('5');
          expect(res.json()).toMatchObject({ error: 'queue_unavailable' });
        }
      } finally {
        await app.close();
      }
      // Back up, so the connection and its queues close as in production rather than mid-reconnect.
      await store.server.start();
      await waitForRedis(store.producer, 15_000);
    } finally {
      await store.close();
    }
  });
});
