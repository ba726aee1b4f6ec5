import type { Worker } from 'bullmq';
import type { RedisConnection } from '../lib/redis';
import { withTimeout } from '../lib/async';
import type { Logger } from '../lib/logger';
import { workersRecreated } from '../lib/metrics';
import type { QueueName } from '../lib/queue-names';

export interface WatchdogDeps {
  workers(): readonly (readonly [QueueName, Worker])[];
  /** The producer connection: tells whether Redis itself answers. */
  redis: RedisConnection;
  downForMs: number;
  log: Logger;
  /** Replaces the worker of `queue`; `stuck` is the one to retire. */
  recreate(queue: QueueName, stuck: Worker): void;
}

export interface WorkerWatchdog {
  stop(): void;
}

const STATUS_TIMEOUT_MS = 1_000;

/**
 * The status of the connection a worker blocks on to wait for jobs (ioredis: `ready`, `reconnecting`,
 * `end`, …). A worker whose normal connection is fine can still sit here forever after a Redis
 * restart or failover, taking no job, while a PING on the normal connection says all is well.
 */
export async function blockingConnectionStatus(worker: Worker): Promise<string> {
  const client = worker.backend.blockingClient;
  if (!client) return 'none';
  try {
    const resolved = await withTimeout(client, STATUS_TIMEOUT_MS, () => new Error('not connected yet'));
    return resolved.status;
  } catch {
    return 'connecting';
  }
}

/**
 * Checks each worker's blocking connection every few seconds; one that stays down for `downForMs`
 * while Redis answers on the producer connection has its worker recreated, with no process restart.
 * While Redis itself is away nothing is recreated: ioredis reconnects when it returns.
 */
export function startWorkerWatchdog(deps: WatchdogDeps): WorkerWatchdog {
  const downSince = new Map<Worker, number>();
  let checking = false;
  const check = async (): Promise<void> => {
    if (checking) return;
    checking = true;
    try {
      for (const [queue, worker] of deps.workers()) {
        const status = await blockingConnectionStatus(worker);
        if (status === 'ready') {
          downSince.delete(worker);
          continue;
        }
        const since = downSince.get(worker) ?? Date.now();
        downSince.set(worker, since);
        const downMs = Date.now() - since;
        if (downMs < deps.downForMs || deps.redis.status !== 'ready') continue;
        downSince.delete(worker);
        deps.log.warn({ queue, status, downMs }, 'blocking connection down while Redis answers: worker recreated');
        workersRecreated.inc({ queue });
        deps.recreate(queue, worker);
      }
    } finally {
      checking = false;
    }
  };
  const timer = setInterval(() => void check(), Math.min(5_000, Math.max(250, deps.downForMs / 4)));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
