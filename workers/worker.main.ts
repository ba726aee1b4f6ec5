import { registry } from '../jobs';
import { loadConfigOrExit } from '../lib/config';
import { createLogger } from '../lib/logger';
import { closeRedis, createRedis } from '../lib/redis';
import { openRuntime } from './runtime';
import { logProcessFaults, onShutdown } from './shutdown';
import { startWorkers } from './start-workers';

/** The worker process: BullMQ workers for the queues of HUB_QUEUES (all by default). */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger({ level: config.log.level, pretty: config.log.pretty, base: { proc: 'worker' } });
  logProcessFaults(log);
  const runtime = await openRuntime(config, log);
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
      now: () => new Date(),
    },
    { queues: config.queues, connection: workerConnection, prefix: config.redis.queuePrefix },
  );
  onShutdown(log, config.shutdownGraceMs, async () => {
    await pool.close();
    await closeRedis(workerConnection);
    await runtime.close();
  });
}

main().catch((err: unknown) => {
  console.error('jobhub worker failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
