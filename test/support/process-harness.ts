import type { QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import { closeRedis } from '../../lib/redis';
import type { QueueName } from '../../lib/queue-names';
import { QueueSet } from '../../workers/queues';
import { clearTables, openTestDataSource } from './db';
import { testConfig } from './env';
import { deletePrefix, testPrefix, testQueueEvents, testRedis } from './queues';

/** What a test driving built hub processes holds in its own process: the database, the queues, one queue's events. */
export interface ProcessHarness {
  /** The test file's BullMQ prefix, to hand the processes (`HUB_QUEUE_PREFIX`). */
  prefix: string;
  db: DataSource;
  redis: Redis;
  queues: QueueSet;
  events: QueueEvents;
  /** Events closed, the prefix's keys deleted, `tables` cleared, connections closed. */
  close(): Promise<void>;
}

/** Opens the harness for `file`, listening on `queue`, with `tables` cleared first and last. */
export async function openProcessHarness(file: string, queue: QueueName, tables: EntityTarget<ObjectLiteral>[]): Promise<ProcessHarness> {
  const prefix = testPrefix(file);
  const db = await openTestDataSource(testConfig());
  const redis = await testRedis();
  const queues = new QueueSet(redis, prefix);
  const events = await testQueueEvents(queue, prefix);
  await clearTables(db, tables);
  return {
    prefix,
    db,
    redis,
    queues,
    events,
    async close() {
      await events.close();
      await queues.close();
      await deletePrefix(redis, prefix);
      await closeRedis(redis);
      await clearTables(db, tables);
      await db.destroy();
    },
  };
}
