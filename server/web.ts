import type { FastifyInstance } from 'fastify';
import { registry } from '../jobs';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { Role, Runtime } from '../workers/runtime';
import { buildApp } from './app';
import { listen } from '../lib/listen';

export interface WebRole extends Role {
  readonly app: FastifyInstance;
  readonly port: number;
}

/** The web role: API, dashboard, health and metrics on HUB_PORT. Queue depth is the clock's to report (workers/clock.ts). */
export async function startWebRole(runtime: Runtime, config: Config, log: Logger): Promise<WebRole> {
  const app = await buildApp({ config, log, db: runtime.db, redis: runtime.redis, queues: runtime.queues, registry, readiness: runtime.readiness, integrations: runtime.integrations });
  const port = await listen(app, config.http.port);
  log.info({ port, dashboard: `http://127.0.0.1:${port}/admin/queues` }, 'web listening');
  // The in-process emulator calls back the webhook this process serves, as WeChat calls the notify_url.
  const emulator = runtime.integrations.emulators.wechatPay;
  const mchid = runtime.integrations.wechatPay.defaultMchid;
  emulator?.setNotifyUrl(mchid, `http://127.0.0.1:${port}/webhooks/wechat-pay/${mchid}`);
  return {
    app,
    port,
    async close() {
      await app.close();
    },
  };
}
