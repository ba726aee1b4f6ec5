import type { DataSource } from 'typeorm';
import { QUEUE_NAMES } from '../../lib/queue-names';
import { openTestDataSource } from '../support/db';
import { clearDemoTables, runDemoFlow } from '../support/demo-flow';
import { testConfig } from '../support/env';
import { startPrivateCluster, type PrivateCluster } from '../support/redis-cluster';

/**
 * The same demo flows on a private three-primary Redis Cluster (REDIS_CLUSTER_NODES): payments,
 * reconciliation, the clock, messaging and marketing, with the queues spread over the shards.
 */
describe('npm start with demo data on a Redis Cluster', () => {
  let cluster: PrivateCluster;
  let db: DataSource;

  beforeAll(async () => {
    cluster = await startPrivateCluster({ masters: 3 });
    db = await openTestDataSource(testConfig());
    await clearDemoTables(db);
  });
  afterAll(async () => {
    await cluster.close();
    await clearDemoTables(db);
    await db.destroy();
  });

  it('runs every demo flow, the queues on more than one shard', async () => {
    const hub = await runDemoFlow(db, { REDIS_CLUSTER_NODES: cluster.nodes, REDIS_URL: 'redis://127.0.0.1:1', HUB_QUEUE_PREFIX: 'demo' });
    expect(hub.stdout()).toMatch(/"redis":"cluster via 127\.0\.0\.1:\d+/);

    // Which shard holds each queue that ran: one each, and more than one between them.
    const shardsOf = new Map<string, Set<number>>();
    for (const [port, keys] of await cluster.keysByPrimary('demo:{')) {
      for (const key of keys) {
        const queue = /^demo:\{([^}]+)\}/.exec(key)?.[1] ?? '?';
        shardsOf.set(queue, (shardsOf.get(queue) ?? new Set()).add(port));
      }
    }
    const ran = [...shardsOf.keys()];
    expect(ran.every((q) => (QUEUE_NAMES as readonly string[]).includes(q))).toBe(true);
    expect(ran.length).toBeGreaterThanOrEqual(5);
    for (const shards of shardsOf.values()) expect(shards.size).toBe(1);
    expect(new Set([...shardsOf.values()].flatMap((s) => [...s])).size).toBeGreaterThan(1);
  }, 180_000);
});
