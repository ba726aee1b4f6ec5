import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../lib/logger';

const FIRST_WAIT_MS = 1_000;
const LONGEST_WAIT_MS = 15_000;

/**
 * `attempt` again until it succeeds, while it fails with an outage (`isOutage`): a process started
 * before MySQL or Redis (a whole deployment coming up at once, a failover under way) waits for
 * them, saying what it waits for, instead of exiting. Any other error is thrown at once.
 */
export async function untilAvailable<T>(waitingFor: StartupState, what: string, log: Logger, isOutage: (err: unknown) => boolean, attempt: () => Promise<T>): Promise<T> {
  for (let waitMs = FIRST_WAIT_MS; ; waitMs = Math.min(LONGEST_WAIT_MS, waitMs * 2)) {
    try {
      waitingFor.current = what;
      const result = await attempt();
      waitingFor.current = null;
      return result;
    } catch (err) {
      if (!isOutage(err)) throw err;
      log.warn({ err, waitingFor: what, retryInMs: waitMs }, `waiting for ${what}`);
      await sleep(waitMs);
    }
  }
}

/** What a starting process waits for; null once it waits for nothing. */
export interface StartupState {
  current: string | null;
}

/**
 * While the process starts, its health port answers: `/healthz` 200 (alive: an orchestrator must
 * not restart a process that only waits), `/readyz` 503 naming what it waits for. Closed before
 * the process's own server takes the port.
 */
export async function serveStartupHealth(port: number, state: StartupState, log: Logger): Promise<{ close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const ready = path === '/readyz';
    if (path !== '/healthz' && !ready) return void res.writeHead(404).end();
    const body = ready ? { status: 'starting', waitingFor: state.current ?? 'the process to finish starting' } : { status: 'ok', starting: true };
    res.writeHead(ready ? 503 : 200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', (err) => {
      // The port taken: the process starts all the same, without health answers until it serves them.
      log.warn({ err, port }, 'startup health not served');
      resolve(false);
    });
    server.listen(port, '0.0.0.0', () => resolve(true));
  });
  return {
    async close() {
      if (!listening) return;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
