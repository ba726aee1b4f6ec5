import type { FastifyInstance } from 'fastify';
import type { LightMyRequestResponse } from 'fastify';
import { registry } from '../../jobs';
import { buildApp } from '../../server/app';
import { testConfig } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { BOARD_ADMIN } from '../support/board';

const TOKEN = 'ops-token-0123456789abcdef';
const ADMIN = BOARD_ADMIN;
const BASIC = `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}`;

describe('security headers', () => {
  let hub: TestHub;
  let app: FastifyInstance;

  beforeAll(async () => {
    hub = await openTestHub(__filename);
    const config = testConfig({ HUB_QUEUE_PREFIX: hub.prefix, HUB_API_TOKENS: `ops:${TOKEN}`, BOARD_USERNAME: ADMIN.username, BOARD_PASSWORD: ADMIN.password });
    app = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
  });
  afterAll(async () => {
    await app.close();
    await hub.close();
  });

  const get = (url: string, authorization?: string): Promise<LightMyRequestResponse> =>
    app.inject({ method: 'GET', url, headers: authorization ? { authorization } : {} });

  function expectSecurityHeaders(res: LightMyRequestResponse): void {
    const csp = String(res.headers['content-security-policy']);
    for (const directive of ["default-src 'self'", "script-src 'self'", "script-src-attr 'none'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'self'"]) {
      expect(csp.split(';')).toContain(directive);
    }
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  }

  it('sends them on the dashboard, the API and the health routes, and no-store on data only', async () => {
    const cases = [
      { url: '/admin/queues', auth: BASIC, status: 200, noStore: false },
      { url: '/admin/queues/api/queues', auth: BASIC, status: 200, noStore: true },
      { url: '/api/v1/jobs', auth: `Bearer ${TOKEN}`, status: 200, noStore: true },
      { url: '/api/v1/jobs', auth: undefined, status: 401, noStore: true },
      { url: '/healthz', auth: undefined, status: 200, noStore: false },
    ];
    for (const { url, auth, status, noStore } of cases) {
      const res = await get(url, auth);
      expect({ url, status: res.statusCode }).toEqual({ url, status });
      expectSecurityHeaders(res);
      expect({ url, cacheControl: res.headers['cache-control'] === 'no-store' }).toEqual({ url, cacheControl: noStore });
    }
  });

  it("serves the dashboard's page without its third-party font stylesheet, its own scripts and styles kept", async () => {
    const page = await get('/admin/queues', BASIC);
    expect(page.body).not.toMatch(/fonts\.googleapis\.com/);
    expect(page.body).toMatch(/<link href="static\/css\/main\.[0-9a-f]+\.css" rel="stylesheet">/);
    const script = /<script defer src="(static\/js\/main\.[0-9a-f]+\.js)">/.exec(page.body)?.[1];
    expect(script).toBeDefined();
    const asset = await get(`/admin/queues/${script}`, BASIC);
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['x-content-type-options']).toBe('nosniff');
    expect(asset.headers['cache-control']).not.toBe('no-store');
  });
});
