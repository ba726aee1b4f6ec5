import { registry } from '../jobs';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import { closeRedis, createRedis } from '../lib/redis';
import { startOutboxRelay } from './outbox-relay';
import { DELIVERY_SWEEPERS } from './delivery-sweeper';
import { failedJobsWatch } from './failed-jobs-watch';
import { outboxSweeper } from './outbox-sweeper';
import { payNotifySweeper } from './pay-notify-sweeper';
import { refundSweeper } from './refund-sweeper';
import type { Role, Runtime } from './runtime';
import { startWorkers } from './start-workers';
import { startSweepers } from './sweeper';
import { hubRedisKeys } from '../lib/redis-keys';

/** Every sweeper the worker runs: MySQL state that says work is unfinished, checked against Redis. */
export const SWEEPERS = [outboxSweeper, payNotifySweeper, refundSweeper, ...DELIVERY_SWEEPERS];

/**
 * The worker role: BullMQ workers for the queues of HUB_QUEUES, the hub_outbox relay and the
 * sweepers. Its workers' blocking connections join the process's `/readyz`.
 */
export function startWorkerRole(runtime: Runtime, config: Config, log: Logger): Role {
  const now = (): Date => new Date();
  const workerConnection = createRedis(config.redis, 'worker');
  const { db, redis, queues } = runtime;
  const pool = startWorkers(
    { config, db, redis, log, registry, enqueue: runtime.enqueue, integrations: runtime.integrations, queues, now, schema: runtime.schema },
    {
      queues: config.queues,
      connection: workerConnection,
      keys: hubRedisKeys(config.redis),
      lockMs: config.worker.lockMs,
      watchdogMs: config.worker.watchdogMs,
    },
  );
  runtime.readiness.push(pool.readiness);
  // Every worker process relays: SKIP LOCKED lets them share the table, so one more replica never duplicates a job.
  const relay = startOutboxRelay(
    { db, registry, queues, log: log.child({ component: 'outbox-relay' }), now },
    { pollMs: config.outboxPollMs },
  );
  const watches = [failedJobsWatch({ config, enqueue: runtime.enqueue })];
  const sweepers = startSweepers({ db, redis, queues, registry, log: log.child({ component: 'sweeper' }), now }, [...SWEEPERS, ...watches], {
    periodMs: config.sweepIntervalMs,
  });
  return {
    async close() {
      // The workers stop fetching first, at once; the relay and the sweepers finish a batch in flight meanwhile.
      const draining = pool.close(config.shutdownGraceMs);
      await Promise.all([relay.stop(), sweepers.stop(), draining]);
      await closeRedis(workerConnection);
    },
  };
}
