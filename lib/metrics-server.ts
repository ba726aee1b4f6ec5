import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from './logger';
import { metricsRegistry } from './metrics';
import { registerHealthRoutes, type ReadinessCheck } from './health';
import { listen } from './listen';

/** `GET /metrics` for Prometheus, in the form prom-client renders. */
export function registerMetricsRoute(app: FastifyInstance): void {
  app.get('/metrics', async (_request, reply) => {
    const body = await metricsRegistry.metrics();
    return reply.type(metricsRegistry.contentType).send(body);
  });
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Worker and clock processes have no web face: they serve `/metrics`, `/healthz` and `/readyz` on
 * their own port (HUB_METRICS_PORT; 0 picks a free one, as tests do).
 */
export async function serveMetrics(port: number, log: Logger, checks: readonly ReadinessCheck[]): Promise<MetricsServer> {
  const app = Fastify({ logger: false });
  registerMetricsRoute(app);
  registerHealthRoutes(app, checks);
  const bound = await listen(app, port);
  log.info({ port: bound }, 'metrics listening');
  return { port: bound, close: () => app.close() };
}
