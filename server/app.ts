import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { RedisConnection } from '../lib/redis';
import type { DataSource } from 'typeorm';
import { NO_INTEGRATIONS, type Integrations } from '../integrations';
import type { JobRegistry } from '../jobs/define-job';
import type { Config } from '../lib/config';
import { isDatabaseUnavailableError, isTransientDatabaseError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { createEnqueue } from '../workers/enqueue';
import { QUEUE_NAMES } from '../lib/queue-names';
import type { QueueSet } from '../workers/queues';
import { registerBoard } from './board/board.routes';
import { connectionChecks, registerHealthRoutes, type ReadinessCheck } from '../lib/health';
import { isRedisUnavailable, sendError } from './http-errors';
import { registerJobRoutes } from './api/jobs.routes';
import { registerMetricsRoute } from '../lib/metrics-server';
import { registerReconciliationRoutes } from './api/reconciliation.routes';
import { registerRefundRoutes } from './api/refunds.routes';
import { registerSmsReceiptWebhook } from './webhooks/sms-receipts.routes';
import { LoginThrottle } from './board/login-throttle';
import { registerSecurityHeaders } from './security-headers';
import { registerWechatPayWebhook } from './webhooks/wechat-pay.routes';
import { registerAppleWebhook } from './webhooks/apple.routes';
import { registerOpenApi } from './api/openapi';
import { hubRedisKeys } from '../lib/redis-keys';
import { registerAuditHook } from './audit-hook';
import { registerAuditRoutes } from './api/audit.routes';
import { registerRefundListRoutes } from './api/refunds-list.routes';
import { registerAlertRoutes } from './api/alerts.routes';
import { registerLookupRoutes } from './api/lookup.routes';
import { registerScheduleRoutes } from './api/schedule.routes';

export interface AppDeps {
  config: Config;
  log: Logger;
  db: DataSource;
  /** The producer connection the queues use: fail-fast, so an outage answers 503 at once. */
  redis: RedisConnection;
  queues: QueueSet;
  registry: JobRegistry;
  /** What `/readyz` checks; Redis and MySQL when not given. Read at each request, so roles started later add theirs. */
  readiness?: readonly ReadinessCheck[];
  /** Webhooks verify with these; none where a test needs no outside system. */
  integrations?: Integrations;
  now?: () => Date;
}

/** Job payloads carry ids and parameters; anything near this size is a mistake. */
export const BODY_LIMIT_BYTES = 256 * 1024;

/** The web face without `listen()`: tests drive it with `inject`. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const trustProxy = deps.config.http.trustedProxies.length > 0 ? [...deps.config.http.trustedProxies] : false;
  // Job ids run to 512 characters (workers/enqueue.ts): past Fastify's default of 100 the status route answered 414.
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES, trustProxy, routerOptions: { maxParamLength: 1_024 } });
  const { log } = deps;
  registerSecurityHeaders(app);
  await registerOpenApi(app); // before the routes: it collects their schemas as they are added

  app.addHook('onResponse', (request, reply, done) => {
    const quiet = reply.statusCode < 400 && (request.method === 'GET' || request.method === 'HEAD');
    const level = quiet ? 'debug' : 'info';
    // Checked first: the line's fields cost something to gather on every request, logged or not.
    if (log.isLevelEnabled(level)) {
      log[level]({ method: request.method, route: request.routeOptions.url ?? request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'http request');
    }
    done();
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isDatabaseUnavailableError(err)) {
      log.warn({ err, route: request.routeOptions.url }, 'database unavailable');
      reply.header('retry-after', '5');
      return sendError(reply, 503, { error: 'database_unavailable', message: 'the database (MySQL) is unavailable or read-only; retry later' });
    }
    if (isTransientDatabaseError(err)) {
      log.warn({ err, route: request.routeOptions.url }, 'database busy');
      reply.header('retry-after', '1');
      return sendError(reply, 503, { error: 'database_busy', message: 'the database was busy (deadlock or lost connection); retry the request' });
    }
    // After MySQL's: a MySQL socket error (ECONNREFUSED…) reads like Redis's, and MySQL's carry the driver's marks.
    if (isRedisUnavailable(err)) {
      log.warn({ err, route: request.routeOptions.url }, 'redis unavailable');
      reply.header('retry-after', '5');
      return sendError(reply, 503, { error: 'queue_unavailable', message: 'the queue store (Redis) is unavailable; retry later' });
    }
    const status = err.statusCode ?? 500;
    if (status < 500) {
      return sendError(reply, status, { error: (err.code ?? 'bad_request').toLowerCase(), message: err.message });
    }
    log.error({ err, route: request.routeOptions.url }, 'request failed');
    return sendError(reply, 500, { error: 'internal', message: 'internal error; see the hub logs' });
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, { error: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  const names = QUEUE_NAMES; // HUB_QUEUES narrows what a worker serves, never what ops can see
  for (const name of names) deps.queues.get(name); // every queue connected now, never first while Redis is away

  registerAuditHook(app, { db: deps.db, apiTokens: deps.config.apiTokens, registry: deps.registry, log, now: deps.now ?? ((): Date => new Date()) }); // before the routes it audits
  registerHealthRoutes(app, deps.readiness ?? connectionChecks(deps.db, deps.redis));
  registerMetricsRoute(app);
  registerJobRoutes(app, { registry: deps.registry, queues: deps.queues, redis: deps.redis, apiTokens: deps.config.apiTokens, log });
  const now = deps.now ?? ((): Date => new Date());
  const enqueue = createEnqueue(deps.queues);
  registerWechatPayWebhook(app, { db: deps.db, integrations: deps.integrations ?? NO_INTEGRATIONS, enqueue, log, now });
  registerSmsReceiptWebhook(app, { db: deps.db, integrations: deps.integrations ?? NO_INTEGRATIONS, log, now });
  registerAppleWebhook(app, { db: deps.db, integrations: deps.integrations ?? NO_INTEGRATIONS, enqueue, log, now });
  registerReconciliationRoutes(app, { db: deps.db, apiTokens: deps.config.apiTokens, log });
  registerRefundRoutes(app, { db: deps.db, queues: deps.queues, apiTokens: deps.config.apiTokens, log, now });
  const throttle = new LoginThrottle(deps.redis, hubRedisKeys(deps.config.redis), deps.config.boardLogin);
  await registerBoard(app, { queues: deps.queues, names, accounts: deps.config.board, trustedProxies: deps.config.http.trustedProxies, publicUrl: deps.config.http.publicUrl, throttle, registry: deps.registry, locale: deps.config.board.locale, log });
  registerAuditRoutes(app, { db: deps.db, config: deps.config, throttle, log });
  registerRefundListRoutes(app, { db: deps.db, config: deps.config, throttle, log });
  registerAlertRoutes(app, { db: deps.db, config: deps.config, throttle, log });
  registerLookupRoutes(app, { db: deps.db, queues: deps.queues, registry: deps.registry, config: deps.config, throttle, log });
  registerScheduleRoutes(app, { queues: deps.queues, config: deps.config, throttle, log });
  await app.ready();
  return app;
}
