import { Worker } from 'bullmq';
import { Cluster } from 'ioredis';
import { smsCircuitKey } from '../../jobs/messaging/sms-chain';
import { QUEUE_NAMES } from '../../lib/queue-names';
import { takeSecondPermit } from '../../lib/rate-permit';
import { closeRedis, createRedis, waitForRedis, type RedisConnection } from '../../lib/redis';
import { hubRedisKeys } from '../../lib/redis-keys';
import { LoginThrottle } from '../../server/board/login-throttle';
import { QueueSet } from '../../workers/queues';
import { sweeperLockKey } from '../../workers/sweeper';
import { testConfig } from '../support/env';
import { testPrefix } from '../support/queues';
import { startPrivateCluster, type PrivateCluster } from '../support/redis-cluster';
import { track } from '../support/resources';
import { until } from '../support/wait';

jest.setTimeout(60_000);

/**
 * The hub's connections on a private three-primary Redis Cluster (REDIS_CLUSTER_NODES): each queue
 * in a slot of its own tag, the queues over several shards, and the hub's keys beside their queue.
 */
describe('Redis Cluster', () => {
  const prefix = testPrefix(__filename);
  let cluster: PrivateCluster;
  let producer: RedisConnection;
  let workerConnection: RedisConnection;
  let queues: QueueSet;
  const config = (): ReturnType<typeof testConfig> => testConfig({ REDIS_CLUSTER_NODES: cluster.nodes, HUB_QUEUE_PREFIX: prefix });

  beforeAll(async () => {
    cluster = await startPrivateCluster({ masters: 3 });
    producer = track({ kind: 'redis', value: createRedis(config().redis, 'producer', 'jobhub-test') });
    workerConnection = track({ kind: 'redis', value: createRedis(config().redis, 'worker', 'jobhub-test') });
    await waitForRedis(producer);
    queues = new QueueSet(producer, hubRedisKeys(config().redis));
  });
  afterAll(async () => {
    await queues.close();
    await closeRedis(producer);
    await closeRedis(workerConnection);
    await cluster.close();
  });

  const slotOf = async (key: string): Promise<number> => Number(await producer.call('CLUSTER', 'KEYSLOT', key));

  it('reads the nodes, and refuses them beside Sentinel', () => {
    const c = config();
    expect(c.redis.cluster?.nodes).toHaveLength(3);
    expect(producer).toBeInstanceOf(Cluster);
    expect(() => testConfig({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_MASTER: 'm' })).toThrow(/REDIS_CLUSTER_NODES: set either REDIS_CLUSTER_NODES or REDIS_SENTINELS/);
    expect(() => testConfig({ REDIS_CLUSTER_NODES: 'nohostport' })).toThrow(/REDIS_CLUSTER_NODES: expected host:port pairs/);
  });

  it('runs every queue, each in one slot, the queues on more than one shard', async () => {
    const ran: string[] = [];
    const workers = QUEUE_NAMES.map((name) =>
      track({
        kind: 'worker',
        value: new Worker(name, async (job) => void ran.push(`${name}:${job.id ?? ''}`), { connection: workerConnection, prefix: queues.keys.queuePrefix(name) }),
      }),
    );
    try {
      for (const name of QUEUE_NAMES) await queues.get(name).add('cluster-probe', { name }, { jobId: `probe-${name}` });
      await until('every queue ran its job', () => ran.length === QUEUE_NAMES.length, 20_000, 50);
      expect(ran.sort()).toEqual(QUEUE_NAMES.map((n) => `${n}:probe-${n}`).sort());
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }

    const byPrimary = await cluster.keysByPrimary(prefix);
    const shardOfQueue = new Map<string, number[]>();
    for (const [port, keys] of byPrimary) {
      for (const key of keys) {
        const queue = /\{([^}]+)\}/.exec(key)?.[1] ?? '?';
        shardOfQueue.set(queue, [...new Set([...(shardOfQueue.get(queue) ?? []), port])]);
      }
    }
    // Every queue's keys on one shard (one slot: BullMQ's scripts touch them together)…
    for (const name of QUEUE_NAMES) {
      expect(shardOfQueue.get(name)).toHaveLength(1);
      const keys = [...byPrimary.values()].flat().filter((k) => k.includes(`{${name}}`));
      expect(new Set(await Promise.all(keys.map(slotOf))).size).toBe(1);
    }
    // …and the queues spread: more than one shard holds queues.
    expect(new Set([...shardOfQueue.values()].flat()).size).toBeGreaterThan(1);
  });

  it('keeps the hub keys beside their queue, and their transactions work', async () => {
    const keys = queues.keys;
    const queueSlot = async (name: (typeof QUEUE_NAMES)[number]): Promise<number> => slotOf(`${keys.queuePrefix(name)}:${name}:wait`);
    expect(await slotOf(keys.beside('sms', 'rate', 'sms'))).toBe(await queueSlot('sms'));
    expect(await slotOf(smsCircuitKey(keys, 'aliyun'))).toBe(await queueSlot('sms'));
    expect(await slotOf(sweeperLockKey(keys, { name: 'refund', queue: 'refunds' }))).toBe(await queueSlot('refunds'));
    expect(await slotOf(keys.beside('payments', 'clock', 'wechat-pay-sync-stuck-orders-202612031200'))).toBe(await queueSlot('payments'));

    // The SMS permit (MULTI on one key) and the login throttle (one transaction over two keys of one tag).
    // A time early in its second: the permit refuses the last 100 ms of a second whatever the store says.
    const earlyInSecond = new Date(Math.floor(Date.now() / 1_000) * 1_000 + 10);
    expect(await takeSecondPermit(producer, keys.beside('sms', 'rate', 'sms'), 5, earlyInSecond)).toBeNull();
    const throttle = new LoginThrottle(producer, keys, { maxFailuresPerUser: 2, maxFailuresPerAddress: 10, windowMs: 60_000 });
    await throttle.recordFailure('ops', '10.0.0.1');
    const second = await throttle.recordFailure('ops', '10.0.0.1');
    expect(second.failures).toEqual({ address: 2, user: 2 });
    expect((await throttle.recordFailure('ops', '10.0.0.1')).retryAfterS).toBeGreaterThan(0);
  });
});
