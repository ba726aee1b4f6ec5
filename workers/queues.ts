import { Queue, type JobsOptions, type RateLimiterOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../lib/config';
import type { QueueName } from '../lib/queue-names';

export interface QueueSettings {
  /** Jobs at once per worker process. */
  concurrency: number;
  /** Across every worker of the queue: a vendor account's published limit. */
  limiter?: RateLimiterOptions;
  /**
   * The one outside account every job of the queue calls. A RateLimitedError (that account
   * throttled) then pauses the whole queue. On a queue without one, whose jobs call several
   * accounts (payments and reconcile: WeChat Pay and the App Store), it delays only its own job, so
   * Apple's 429 never holds up WeChat Pay's notifications.
   */
  account?: string;
}

/** Concurrency and limits per queue; batch queues run few at once so they never starve MySQL. */
export const QUEUE_SETTINGS: Record<QueueName, QueueSettings> = {
  payments: { concurrency: 20 },
  reconcile: { concurrency: 1 },
  refunds: { concurrency: 10, account: 'WeChat Pay' },
  marketing: { concurrency: 2 },
  sms: { concurrency: 50, account: 'the SMS providers' },
  'wechat-messages': { concurrency: 20, account: 'WeChat official account and mini program' },
  email: { concurrency: 5, account: 'the SMTP server' },
  messages: { concurrency: 5 },
  sync: { concurrency: 2, account: 'the school system' },
  // Few at once: a canary may hold its slot for minutes, and ops jobs are never urgent.
  ops: { concurrency: 2 },
};

/**
 * A queue's limiter: the fixed one of QUEUE_SETTINGS, or one from configuration (the SMS account's
 * sending limit, SMS_RATE_LIMIT_PER_SECOND). Shared by every worker of the queue, in Redis.
 */
export function limiterFor(queue: QueueName, config: Pick<Config, 'messaging'>): RateLimiterOptions | undefined {
  if (queue === 'sms') return perSecondLimiter(config.messaging.sms.ratePerSecond);
  return QUEUE_SETTINGS[queue].limiter;
}

/**
 * `perSecond` spread over tenths of a second, so jobs arrive smoothly rather than in one burst per
 * second. The vendor's own seconds are kept by the SMS permit (lib/rate-permit.ts): BullMQ's windows
 * start with their first job, not on the second.
 */
export function perSecondLimiter(perSecond: number): RateLimiterOptions {
  if (perSecond < 50) return { max: perSecond, duration: 1_000 };
  return { max: Math.floor(perSecond / 10), duration: 100 };
}

const HOUR_S = 3_600;

/**
 * Retention: completed jobs an hour (10k at most), failed a week for ops to inspect. Correctness
 * never rests on retention: idempotency keys live in MySQL.
 */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 },
  removeOnComplete: { age: HOUR_S, count: 10_000 },
  removeOnFail: { age: 7 * 24 * HOUR_S },
};

/** Producer-side queues, one per name, created on first use over one fail-fast connection. */
export class QueueSet {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(
    private readonly connection: Redis,
    readonly prefix: string,
  ) {}

  get(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix, defaultJobOptions: DEFAULT_JOB_OPTIONS });
      queue.on('error', () => undefined); // surfaced by the failing call itself
      this.queues.set(name, queue);
    }
    return queue;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
