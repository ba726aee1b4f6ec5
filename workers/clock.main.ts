import { loadConfigOrExit } from '../lib/config';
import { createLogger } from '../lib/logger';
import { collectProcessMetrics } from '../lib/metrics';
import { serveMetrics } from '../server/metrics-server';
import { startClockRole } from './clock';
import { openRuntime } from './runtime';
import { logProcessFaults, onShutdown } from './shutdown';

/** The clock process: enqueues the slots of jobs/schedules.ts; workers run them. Any number may run. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger({ level: config.log.level, pretty: config.log.pretty, base: { proc: 'clock' } });
  logProcessFaults(log);
  collectProcessMetrics();
  const runtime = await openRuntime(config, log);
  // A bad schedule throws here, naming the job: the process exits 1 before serving anything.
  const role = startClockRole(runtime, config, log);
  const metrics = await serveMetrics(config.http.metricsPort, log);
  onShutdown(log, config.shutdownGraceMs, async () => {
    await role.close();
    await metrics.close();
    await runtime.close();
  });
}

main().catch((err: unknown) => {
  console.error('jobhub clock failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
