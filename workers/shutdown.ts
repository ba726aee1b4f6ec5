import type { Logger } from '../lib/logger';

/**
 * SIGTERM or SIGINT runs `close` once, within `graceMs` (then exits 1); a second signal forces exit.
 * Exit code 0 when everything closed in time.
 */
export function onShutdown(log: Logger, graceMs: number, close: () => Promise<void>): void {
  let closing = false;
  const handle = (signal: NodeJS.Signals): void => {
    if (closing) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    log.info({ signal, graceMs }, 'shutting down');
    const deadline = setTimeout(() => {
      log.error({ graceMs }, 'shutdown deadline passed: exiting');
      process.exit(1);
    }, graceMs + 5_000);
    deadline.unref();
    close().then(
      () => {
        log.info('shut down cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
}

/** Logs what would otherwise vanish or kill the process without a word. */
export function logProcessFaults(log: Logger): void {
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled rejection'));
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
}
