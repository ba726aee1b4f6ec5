import { loadConfigOrExit } from '../lib/config';
import { createLogger } from '../lib/logger';
import { collectProcessMetrics } from '../lib/metrics';
import { serveMetrics } from '../server/metrics-server';
import { openRuntime } from './runtime';
import { logProcessFaults, onShutdown } from './shutdown';
import { startWorkerRole } from './worker-role';

/** The worker process: BullMQ workers for the queues of HUB_QUEUES (all by default). */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger({ level: config.log.level, pretty: config.log.pretty, base: { proc: 'worker' } });
  logProcessFaults(log);
  collectProcessMetrics();
  const runtime = await openRuntime(config, log);
  const role = startWorkerRole(runtime, config, log);
  const metrics = await serveMetrics(config.http.metricsPort, log);
  onShutdown(log, config.shutdownGraceMs, async () => {
    await role.close();
    await metrics.close();
    await runtime.close();
  });
}

main().catch((err: unknown) => {
  console.error('jobhub worker failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
