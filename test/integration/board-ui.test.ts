import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { registry } from '../../jobs';
import { buildApp } from '../../server/app';
import { basicAuth, BOARD_ADMIN, BOARD_ADMIN_ENV } from '../support/board';
import { testConfig } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';

/** What the board shows ops beyond the jobs: its language and what each queue runs. */
describe('the dashboard\'s language and queue descriptions', () => {
  let hub: TestHub;
  const apps: FastifyInstance[] = [];

  beforeAll(async () => {
    hub = await openTestHub(__filename);
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()));
    await hub.close();
  });

  async function board(env: Record<string, string> = {}): Promise<FastifyInstance> {
    const config = testConfig({ HUB_QUEUE_PREFIX: hub.prefix, ...BOARD_ADMIN_ENV, ...env });
    const app = await buildApp({ config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
    apps.push(app);
    return app;
  }
  const get = (app: FastifyInstance, url: string): Promise<LightMyRequestResponse> => app.inject({ method: 'GET', url, headers: { authorization: basicAuth(BOARD_ADMIN) } });
  const uiConfig = (html: string): { locale?: { lng?: string } } => JSON.parse(/<script id="__UI_CONFIG__" type="application\/json">(.*?)<\/script>/s.exec(html)?.[1] ?? '{}') as { locale?: { lng?: string } };

  it('speaks Chinese by default, and what HUB_BOARD_LOCALE names otherwise', async () => {
    expect(uiConfig((await get(await board(), '/admin/queues')).body).locale?.lng).toBe('zh-CN');
    expect(uiConfig((await get(await board({ HUB_BOARD_LOCALE: 'en-US' }), '/admin/queues')).body).locale?.lng).toBe('en-US');
    expect(() => testConfig({ HUB_BOARD_LOCALE: 'xx-XX' })).toThrow(/HUB_BOARD_LOCALE: expected one of zh-CN/);
  });

  it('describes each queue by the jobs it runs', async () => {
    const res = await get(await board(), '/admin/queues/api/queues?activeQueue=sms&status=latest&page=1&jobsPerPage=1');
    expect(res.statusCode).toBe(200);
    const queues = (res.json() as { queues: { name: string; description?: string }[] }).queues;
    expect(queues.find((q) => q.name === 'sms')?.description).toMatch(/^runs .*sms-send/);
    expect(queues.find((q) => q.name === 'payments')?.description).toMatch(/wechat-pay-notify|wechat-pay/);
  });
});
