import { loadConfigOrExit } from '../lib/config';
import { createLogger } from '../lib/logger';
import { collectProcessMetrics } from '../lib/metrics';
import { openRuntime } from '../workers/runtime';
import { logProcessFaults, onShutdown } from '../workers/shutdown';
import { startWebRole } from './web';

/** The web process: enqueue API, dashboard, health and metrics. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger({ level: config.log.level, pretty: config.log.pretty, base: { proc: 'web' } });
  logProcessFaults(log);
  collectProcessMetrics();
  const runtime = await openRuntime(config, log);
  const web = await startWebRole(runtime, config, log);
  onShutdown(log, config.shutdownGraceMs, async () => {
    await web.close();
    await runtime.close();
  });
}

main().catch((err: unknown) => {
  console.error('jobhub web failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
