import { loadConfigOrExit } from '../lib/config';
import { createLogger } from '../lib/logger';
import { collectProcessMetrics } from '../lib/metrics';
import { startClockRole } from '../workers/clock';
import { openRuntime } from '../workers/runtime';
import { logProcessFaults, onShutdown } from '../workers/shutdown';
import { startWorkerRole } from '../workers/worker-role';
import { startWebRole } from './web';

/**
 * `npm start`: web, worker and clock in one process, sharing one data source and one producer
 * connection. The embedded default for a laptop or a small site; larger ones run the three apart.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger({ level: config.log.level, pretty: config.log.pretty, base: { proc: 'hub' } });
  logProcessFaults(log);
  collectProcessMetrics();
  const runtime = await openRuntime(config, log);
  const worker = startWorkerRole(runtime, config, log);
  const clock = startClockRole(runtime, config, log);
  const web = await startWebRole(runtime, config, log);
  onShutdown(log, config.shutdownGraceMs, async () => {
    await clock.close();
    await web.close();
    await worker.close();
    await runtime.close();
  });
}

main().catch((err: unknown) => {
  console.error('jobhub failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
