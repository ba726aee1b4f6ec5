import { registry } from '../jobs';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import { closeRedis, createRedis } from '../lib/redis';
import { startOutboxRelay } from './outbox-relay';
import type { Role, Runtime } from './runtime';
import { startWorkers } from './start-workers';

/** The worker role: BullMQ workers for the queues of HUB_QUEUES, and the hub_outbox relay. */
export function startWorkerRole(runtime: Runtime, config: Config, log: Logger): Role {
  const now = (): Date => new Date();
  const workerConnection = createRedis(config.redis.url, 'worker');
  const pool = startWorkers(
    {
      config,
      db: runtime.db,
      redis: runtime.redis,
      log,
      registry,
      enqueue: runtime.enqueue,
      queues: runtime.queues,
      now,
    },
    { queues: config.queues, connection: workerConnection, prefix: config.redis.queuePrefix },
  );
  // Every worker process relays: SKIP LOCKED lets them share the table, so one more replica never duplicates a job.
  const relay = startOutboxRelay(
    { db: runtime.db, registry, queues: runtime.queues, log: log.child({ component: 'outbox-relay' }), now },
    { pollMs: config.outboxPollMs },
  );
  return {
    async close() {
      // The relay first: a batch in flight still needs the producer queues and the data source.
      await relay.stop();
      await pool.close();
      await closeRedis(workerConnection);
    },
  };
}
