import { Queue, Worker } from 'bullmq';
import { closeRedis, createRedis, waitForRedis, type RedisConnection } from '../../lib/redis';
import { testConfig } from '../support/env';
import { testPrefix } from '../support/queues';
import { SENTINEL_MASTER, startSentinelSet, type PrivateSentinelSet } from '../support/redis-sentinel';
import { track } from '../support/resources';
import { until } from '../support/wait';

jest.setTimeout(90_000);

/**
 * The hub's connections through Sentinel (REDIS_SENTINELS), on a private primary, replica and
 * sentinel: the primary is killed mid-work and every connection follows the promoted replica.
 */
describe('Redis through Sentinel', () => {
  const prefix = testPrefix(__filename);
  let set: PrivateSentinelSet;
  let producer: RedisConnection;
  let workerConnection: RedisConnection;

  beforeAll(async () => {
    set = await startSentinelSet();
    const config = testConfig({ REDIS_SENTINELS: set.sentinels, REDIS_SENTINEL_MASTER: SENTINEL_MASTER, HUB_QUEUE_PREFIX: prefix });
    expect(config.redis.sentinel).toEqual({ sentinels: [{ host: '127.0.0.1', port: Number(set.sentinels.split(':')[1]) }], name: SENTINEL_MASTER, sentinelPassword: null });
    producer = track({ kind: 'redis', value: createRedis(config.redis, 'producer', 'jobhub-test') });
    workerConnection = track({ kind: 'redis', value: createRedis(config.redis, 'worker', 'jobhub-test') });
    await waitForRedis(producer);
  });
  afterAll(async () => {
    await closeRedis(producer);
    await closeRedis(workerConnection);
    await set.close();
  });

  it('follows a failover: jobs added before it all run, and the producer answers again without being recreated', async () => {
    expect(((await producer.call('ROLE')) as string[])[0]).toBe('master');
    const queue = new Queue('sentinel-test', { connection: producer, prefix });
    const ran = new Map<string, number>();
    const worker = track({
      kind: 'worker',
      value: new Worker(
        'sentinel-test',
        async (job) => {
          ran.set(job.id ?? '', (ran.get(job.id ?? '') ?? 0) + 1);
          await new Promise((resolve) => setTimeout(resolve, 20));
        },
        { connection: workerConnection, prefix, concurrency: 5, lockDuration: 2_000, stalledInterval: 2_000 },
      ),
    });
    const ids = Array.from({ length: 200 }, (_, i) => `job-${i}`);
    await queue.addBulk(ids.map((id) => ({ name: 'work', data: {}, opts: { jobId: id } })));
    // Replicated before the kill: what an asynchronous replica can lose is covered by the sweepers, not here.
    await producer.call('WAIT', '1', '2000');
    await until('some ran', () => ran.size >= 20, 10_000, 20);

    await set.primary.stop();
    await until('the sentinel promoted the replica', async () => (await set.primaryPort().catch(() => 0)) === set.replica.port, 30_000, 200);
    await until('every job ran', () => ids.every((id) => ran.has(id)), 45_000, 100);
    await until('the producer answers on the new primary', async () => {
      try {
        return (await producer.call('ROLE') as string[])[0] === 'master';
      } catch {
        return false;
      }
    }, 20_000, 200);
    expect(await producer.ping()).toBe('PONG');
    // A job the old primary had finished but not yet replicated runs again: effects are keyed in MySQL.
    const repeats = [...ran.values()].filter((n) => n > 1).length;
    expect(repeats).toBeLessThan(ids.length / 4);
    await worker.close();
    await queue.close();
  });
});
