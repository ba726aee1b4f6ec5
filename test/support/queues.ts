import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { createRedis, waitForRedis } from '../../lib/redis';
import { TEST_REDIS_URL } from './env';
import { track } from './resources';

/** A BullMQ prefix of the test file's own, so files never see each other's jobs. */
export function testPrefix(file: string): string {
  return `jobhub-test-${basename(file).replace(/\W+/g, '-')}-${randomBytes(3).toString('hex')}`;
}

export async function testRedis(role: 'producer' | 'worker' = 'producer', url = TEST_REDIS_URL): Promise<Redis> {
  const redis = track({ kind: 'redis', value: createRedis(url, role, 'jobhub-test') });
  await waitForRedis(redis);
  return redis;
}

export async function testQueueEvents(queue: string, prefix: string, url = TEST_REDIS_URL): Promise<QueueEvents> {
  const events = track({ kind: 'queue-events', value: new QueueEvents(queue, { connection: { url }, prefix }) });
  await events.waitUntilReady();
  return events;
}

/** Deletes every key under a prefix: a test file cleans up after itself on the shared Redis. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
