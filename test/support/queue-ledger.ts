import type { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { closeRedis } from '../../lib/redis';
import type { QueueName } from '../../lib/queue-names';
import { QueueSet } from '../../workers/queues';
import { deletePrefix, testQueueEvents, testRedis } from './queues';
import { until } from './wait';

export interface QueueLedger {
  redis: Redis;
  queues: QueueSet;
  events: QueueEvents;
  /** The job id of every 'added' event of the queue, in stream order (the ledger's own sentinels left out). */
  added: string[];
  /** The job id of every 'duplicated' event: an add that BullMQ refused because the id existed. */
  duplicated: string[];
  /** How many times `id` was added. */
  count(id: string): number;
  /** Adds a sentinel job and waits for its event: the stream is ordered, so every earlier event is in the ledger. */
  drain(): Promise<void>;
  /** Closes the events, the queues and the connection, and deletes every key under the prefix. */
  close(): Promise<void>;
}

const SENTINEL = 'queue-ledger-sentinel-';

/** Records what actually reached a BullMQ queue under a test's prefix, to assert "exactly once" from the events, not from the code's own logs. */
export async function openQueueLedger(prefix: string, queue: QueueName = 'messages'): Promise<QueueLedger> {
  const redis = await testRedis();
  const queues = new QueueSet(redis, prefix);
  const events = await testQueueEvents(queue, prefix);
  const added: string[] = [];
  const duplicated: string[] = [];
  const sentinelsSeen = new Set<string>();
  let sentinels = 0;
  events.on('added', ({ jobId }) => (jobId.startsWith(SENTINEL) ? sentinelsSeen.add(jobId) : added.push(jobId)));
  events.on('duplicated', ({ jobId }) => duplicated.push(jobId));
  return {
    redis,
    queues,
    events,
    added,
    duplicated,
    count: (id) => added.filter((a) => a === id).length,
    async drain() {
      const id = `${SENTINEL}${++sentinels}`;
      await queues.get(queue).add('sentinel', {}, { jobId: id });
      await until(`the ${id} event`, () => sentinelsSeen.has(id));
    },
    async close() {
      await events.close();
      await queues.close();
      await deletePrefix(redis, prefix);
      await closeRedis(redis);
    },
  };
}
