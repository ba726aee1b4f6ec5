import { serveMetrics } from '../lib/metrics-server';
import { runProcess } from './process';
import { startWorkerRole } from './worker-role';

/** The worker process: BullMQ workers for the queues of HUB_QUEUES (all by default) and the outbox relay. */
runProcess('worker', async (runtime, config, log) => [
  startWorkerRole(runtime, config, log),
  await serveMetrics(config.http.metricsPort, log, runtime.readiness),
]);
