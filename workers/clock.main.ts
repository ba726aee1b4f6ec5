import { serveMetrics } from '../lib/metrics-server';
import { startClockRole } from './clock';
import { runProcess } from './process';

/**
 * The clock process: enqueues the slots of jobs/schedules.ts; workers run them. A second one is
 * harmless. A bad schedule throws at start, naming the job, and the process exits 1.
 */
runProcess('clock', async (runtime, config, log) => [
  startClockRole(runtime, config, log),
  await serveMetrics(config.http.metricsPort, log, runtime.readiness),
]);
