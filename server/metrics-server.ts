import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../lib/logger';
import { metricsRegistry } from '../lib/metrics';
import { registerHealthRoutes, type ReadinessCheck } from './health.routes';

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
  const address = await app.listen({ port, host: '0.0.0.0' });
  const bound = app.server.address();
  const actualPort = typeof bound === 'object' && bound ? bound.port : port;
  log.info({ address, port: actualPort }, 'metrics listening');
  return { port: actualPort, close: () => app.close() };
}
