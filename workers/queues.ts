import { Queue, type JobsOptions, type RateLimiterOptions } from 'bullmq';
import type { RedisConnection } from '../lib/redis';
import type { QueueName } from '../lib/queue-names';
import { redisKeys, type RedisKeys } from '../lib/redis-keys';

export interface QueueSettings {
  /** Jobs at once per worker process. */
  concurrency: number;
  /**
   * Across every worker of the queue: a vendor account's published limit, in BullMQ's windows (which
   * start with their first job). `sms` has none: its account counts wall-clock seconds, kept by the
   * permit sms-send takes right before the call (lib/rate-permit.ts); a limiter on top only adds latency.
   */
  limiter?: RateLimiterOptions;
  /**
   * What a RateLimitedError holds back. `queue`: every job of the queue calls one outside account,
   * so the throttled account pauses the whole queue. `job` (the default): the queue's jobs call
   * several accounts (payments and reconcile: WeChat Pay and the App Store), so only the throttled
   * job is delayed, and Apple's 429 never holds up WeChat Pay's notifications.
   */
  rateLimitScope?: 'queue' | 'job';
}

/** Concurrency and limits per queue; batch queues run few at once so they never starve MySQL. */
export const QUEUE_SETTINGS: Record<QueueName, QueueSettings> = {
  payments: { concurrency: 20 },
  reconcile: { concurrency: 1 },
  refunds: { concurrency: 10, rateLimitScope: 'queue' }, // WeChat Pay
  marketing: { concurrency: 2 },
  sms: { concurrency: 50, rateLimitScope: 'queue' }, // the SMS providers
  'wechat-messages': { concurrency: 20, rateLimitScope: 'queue' }, // WeChat official account and mini program
  email: { concurrency: 5, rateLimitScope: 'queue' }, // the SMTP server
  messages: { concurrency: 5 },
  sync: { concurrency: 2, rateLimitScope: 'queue' }, // the school system
  // Few at once: a canary may hold its slot for minutes, and ops jobs are never urgent.
  ops: { concurrency: 2 },
};

const HOUR_S = 3_600;

/**
 * Retention: completed jobs an hour (10k at most; the batches' a week, below), failed a week for
 * ops to inspect. Correctness never rests on retention: idempotency keys live in MySQL.
 */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 },
  removeOnComplete: { age: HOUR_S, count: 10_000 },
  removeOnFail: { age: 7 * 24 * HOUR_S },
};

/**
 * The queues of the nightly and hourly batches (reconciliation, school and family sync, retention,
 * code cleanup): their completed jobs, what each run found, stay a week, like failed ones. Per queue,
 * not per job: BullMQ trims a queue's whole completed list by the age of whichever job completes,
 * so a week for one job would be undone by an hour for its neighbours.
 */
const KEPT_A_WEEK: ReadonlySet<QueueName> = new Set<QueueName>(['reconcile', 'sync', 'ops']);

/** A queue's default job options: the defaults above, with its retention. */
export function defaultJobOptions(name: QueueName): JobsOptions {
  if (!KEPT_A_WEEK.has(name)) return DEFAULT_JOB_OPTIONS;
  return { ...DEFAULT_JOB_OPTIONS, removeOnComplete: { age: 7 * 24 * HOUR_S, count: 10_000 } };
}

/** Producer-side queues, one per name, created on first use over one fail-fast connection. */
export class QueueSet {
  private readonly queues = new Map<QueueName, Queue>();
  /** Where each queue's keys are, and the hub keys beside them. */
  readonly keys: RedisKeys;

  constructor(
    private readonly connection: RedisConnection,
    keys: RedisKeys | string,
  ) {
    this.keys = redisKeys(keys);
  }

  get(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.keys.queuePrefix(name), defaultJobOptions: defaultJobOptions(name) });
      queue.on('error', () => undefined); // surfaced by the failing call itself
      this.queues.set(name, queue);
      // BullMQ keeps the outcome of a queue's first look at Redis (its version check) for good: lost
      // during that look, the queue would fail every later add. Such a queue is dropped, and the next
      // use builds a fresh one.
      const created = queue;
      created.waitUntilReady().catch(() => {
        if (this.queues.get(name) !== created) return;
        this.queues.delete(name);
        void created.close().catch(() => undefined);
      });
    }
    return queue;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
