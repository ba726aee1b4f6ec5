import { z } from 'zod';
import { optionalText } from './config-fields';
import { QUEUE_NAMES, type QueueName } from './queue-names';

/**
 * How much a process does at once: jobs per queue and MySQL connections. lib/config.ts merges these
 * fields into the one schema; workers/pool-size.ts checks the two against each other.
 */

const QUEUE_COUNT = /^([a-z-]+):(\d{1,3})$/;

export const capacityEnv = {
  MYSQL_POOL_SIZE: z.coerce
    .number()
    .int()
    .min(2)
    .max(500)
    .optional()
    .describe('MySQL connections per process; default 10 for web and clock, and for a worker its queues\' concurrency summed plus 4 (it refuses a smaller one)'),
  MYSQL_POOL_ACQUIRE_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(30_000)
    .describe('How long a query waits for a free pooled connection before it fails (and its job waits, using no attempt)'),
  HUB_CONCURRENCY: optionalText
    .refine((v) => v === undefined || v.split(',').every((part) => isQueueCount(part.trim())), {
      message: `expected queue:jobs pairs, comma-separated, queues among ${QUEUE_NAMES.join(',')}, jobs 1-500 (e.g. sms:20,payments:10)`,
    })
    .describe('Jobs at once per queue in this process, overriding the defaults of workers/queues.ts (e.g. sms:20,payments:10)'),
};

function isQueueCount(part: string): boolean {
  const match = QUEUE_COUNT.exec(part);
  if (!match) return false;
  const count = Number(match[2]);
  return (QUEUE_NAMES as readonly string[]).includes(match[1] ?? '') && count >= 1 && count <= 500;
}

/** `sms:20,payments:10` as a map; undefined gives none. */
export function parseConcurrency(text: string | undefined): Readonly<Partial<Record<QueueName, number>>> {
  const out: Partial<Record<QueueName, number>> = {};
  for (const part of text?.split(',') ?? []) {
    const match = QUEUE_COUNT.exec(part.trim());
    if (match) out[match[1] as QueueName] = Number(match[2]);
  }
  return out;
}
