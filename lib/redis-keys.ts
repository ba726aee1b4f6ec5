import type { RedisConfig } from './config-redis';
import type { QueueName } from './queue-names';

/**
 * Where the hub's keys live in Redis. On one server (or Sentinel) every queue shares the prefix:
 * `<prefix>:<queue>:…` (BullMQ's own layout) and `<prefix>:<what>` for the hub's keys.
 *
 * On a Redis Cluster each queue carries its own hash tag, `<prefix>:{<queue>}`, so each queue's
 * keys (which BullMQ's scripts touch together) sit in one slot and the queues spread over the
 * shards (BullMQ's advice: one `{tag}` for every queue would put them all on one shard). A hub key
 * a queue's jobs use (a rate permit, a circuit, a clock marker, a sweeper lock) carries its queue's
 * tag, so it lives on the same shard as the jobs that depend on it.
 */
export class RedisKeys {
  constructor(
    readonly prefix: string,
    /** True on a Redis Cluster. */
    readonly taggedByQueue = false,
  ) {}

  /** BullMQ's `prefix` option for a queue's Queue and Worker. */
  queuePrefix(queue: QueueName): string {
    return this.taggedByQueue ? `${this.prefix}:{${queue}}` : this.prefix;
  }

  /** A hub key kept with a queue's keys: `<queue prefix>:<parts…>`. */
  beside(queue: QueueName, ...parts: string[]): string {
    return [this.queuePrefix(queue), ...parts].join(':');
  }

  /**
   * A key of a group that belongs to no queue (the dashboard's login throttle): `<prefix>:<group>:<parts…>`,
   * with the group as its tag on a cluster, so one transaction can touch every key of the group.
   */
  group(group: string, ...parts: string[]): string {
    return [this.prefix, this.taggedByQueue ? `{${group}}` : group, ...parts].join(':');
  }
}

/** A bare prefix is one server's layout; tests and benchmarks pass one. */
export function redisKeys(keys: string | RedisKeys): RedisKeys {
  return typeof keys === 'string' ? new RedisKeys(keys) : keys;
}

/** The keys of the hub's configured Redis: tagged by queue on a cluster. */
export function hubRedisKeys(config: RedisConfig): RedisKeys {
  return new RedisKeys(config.queuePrefix, config.cluster !== null);
}
