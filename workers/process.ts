import { loadConfigOrExit, type Config } from '../lib/config';
import { createLogger, type Logger } from '../lib/logger';
import { collectProcessMetrics } from '../lib/metrics';
import { initialiseMetrics } from './initialise-metrics';
import { openRuntime, type Role, type Runtime } from './runtime';
import { poolSizeFor } from './pool-size';
import { serveStartupHealth, type StartupState } from './startup';
import { logProcessFaults, onShutdown } from './shutdown';

export type StartRoles = (runtime: Runtime, config: Config, log: Logger) => Promise<Role[]>;

/**
 * The life of every process: configuration (exit 1 listing every bad variable), logger, runtime,
 * then its roles; on SIGTERM the roles close together (workers stop fetching at once), then the runtime.
 */
export function runProcess(proc: string, startRoles: StartRoles): void {
  const main = async (): Promise<void> => {
    const loaded = loadConfigOrExit();
    const config: Config = { ...loaded, mysql: { ...loaded.mysql, poolSize: poolSizeFor(loaded, proc === 'worker' || proc === 'hub') } };
    const log = createLogger({ level: config.log.level, pretty: config.log.pretty, base: { proc } });
    logProcessFaults(log);
    collectProcessMetrics();
    const startup: StartupState = { current: null };
    const healthPort = proc === 'web' || proc === 'hub' ? config.http.port : config.http.metricsPort;
    // Port 0 (tests) picks a port nobody could probe: no startup answers then.
    const startupHealth = healthPort === 0 ? null : await serveStartupHealth(healthPort, startup, log);
    const runtime = await openRuntime(config, log, startup).finally(() => startupHealth?.close());
    initialiseMetrics({ config, enqueue: runtime.enqueue });
    const roles = await startRoles(runtime, config, log);
    onShutdown(log, config.shutdownGraceMs, async () => {
      await Promise.all(roles.map((role) => role.close()));
      await runtime.close();
    });
  };
  main().catch((err: unknown) => {
    console.error(`jobhub ${proc} failed to start:`, err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
