import { DEFAULT_POOL_SIZE } from '../entities/data-source';
import type { Config } from '../lib/config';
import { ConfigError } from '../lib/errors';
import type { QueueName } from '../lib/queue-names';
import { QUEUE_SETTINGS } from './queues';

/** Connections beyond the jobs': the outbox relay, the sweepers, the schema check, and one spare. */
export const POOL_RESERVE = 4;

/** Jobs at once of `queue` in this process: HUB_CONCURRENCY's, or the queue's default. */
export function concurrencyOf(config: Pick<Config, 'worker'>, queue: QueueName): number {
  return config.worker.concurrency[queue] ?? QUEUE_SETTINGS[queue].concurrency;
}

/**
 * The pool a process needs. One that runs workers needs a connection for every job it may run at
 * once, plus the reserve: with fewer, jobs would queue for connections while holding their locks,
 * and a pool of one could hang for good. MYSQL_POOL_SIZE below that is refused, naming the figure;
 * unset, it is that figure. Other processes keep MYSQL_POOL_SIZE or the default.
 */
export function poolSizeFor(config: Pick<Config, 'mysql' | 'queues' | 'worker'>, runsWorkers: boolean): number {
  if (!runsWorkers) return config.mysql.poolSize ?? DEFAULT_POOL_SIZE;
  const jobs = config.queues.reduce((sum, queue) => sum + concurrencyOf(config, queue), 0);
  const needed = jobs + POOL_RESERVE;
  if (config.mysql.poolSize === null) return needed;
  if (config.mysql.poolSize < needed) {
    throw new ConfigError([
      `MYSQL_POOL_SIZE=${config.mysql.poolSize} cannot serve this process: its queues (${config.queues.join(',')}) run up to ${jobs} jobs at once, which need ${needed} connections with the relay and sweepers; raise MYSQL_POOL_SIZE, or lower HUB_CONCURRENCY or HUB_QUEUES`,
    ]);
  }
  return config.mysql.poolSize;
}
