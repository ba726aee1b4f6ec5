import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { closeRedis } from '../../lib/redis';
import { freePort, startPrivateRedis, type PrivateRedis } from './private-redis';
import { redisTlsArgs } from './redis-tls';
import type { TestCa } from './test-ca';
import { until } from './wait';

export interface PrivateCluster {
  /** `127.0.0.1:<port>,…` of every node (their TLS ports, with TLS): REDIS_CLUSTER_NODES. */
  readonly nodes: string;
  readonly servers: readonly PrivateRedis[];
  /** The nodes serving slots now, by port. */
  primaries(): Promise<number[]>;
  /** Resolves once every running node says the cluster is ok (after a failover: its replica promoted). */
  untilHealthy(timeoutMs: number): Promise<void>;
  /** How many keys starting with `prefix` each primary holds, by port. */
  keysByPrimary(prefix: string): Promise<Map<number, string[]>>;
  close(): Promise<void>;
}

/**
 * A Redis Cluster of the test's own: `masters` primaries splitting the 16,384 slots, each with
 * `replicasPerMaster` replicas, on private ports. A node's failure is noticed after a second
 * (cluster-node-timeout), so a replica takes over a killed primary within a few seconds.
 */
export async function startPrivateCluster(options: { masters?: number; replicasPerMaster?: number; tls?: TestCa } = {}): Promise<PrivateCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'jobhub-cluster-'));
  const servers: PrivateRedis[] = [];
  /** With TLS: each node's TLS port, which the cluster announces and clients are given. */
  const tlsPorts: number[] = [];
  try {
    const busPorts: number[] = [];
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const tlsPort = options.tls ? await freePort() : 0;
      // Named, not port + 10000 (which can pass 65535 for a port the OS picked).
      const busPort = await freePort();
      tlsPorts.push(tlsPort);
      busPorts.push(busPort);
      const tlsArgs = options.tls ? redisTlsArgs(options.tls, tlsPort, { authClients: 'no', cluster: true }) : [];
      servers.push(
        await startPrivateRedis({
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${i}.conf`), '--cluster-node-timeout', '1000', '--cluster-port', String(busPort),
            // A replica may always take over its dead primary, however long ago it last heard from it.
            '--cluster-replica-validity-factor', '0', ...tlsArgs],
        }),
      );
    }
    await formCluster(servers, busPorts, masters);
    await until('every node to see the cluster ok', async () => (await Promise.all(servers.map((s) => clusterState(s.port)))).every((state) => state === 'ok'), 30_000, 200);
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const primaries = async (): Promise<number[]> => {
    const live = servers.filter((s) => s.isRunning());
    const roles = await Promise.all(live.map(async (s) => ((await onNode(s.port, (r) => r.call('ROLE'))) as string[])[0]));
    return live.filter((_, i) => roles[i] === 'master').map((s) => s.port);
  };
  return {
    nodes: servers.map((s, i) => `127.0.0.1:${options.tls ? tlsPorts[i] : s.port}`).join(','),
    servers,
    primaries,
    untilHealthy: (timeoutMs) =>
      until(
        'every running node to see the cluster ok',
        async () => (await Promise.all(servers.filter((s) => s.isRunning()).map((s) => clusterState(s.port).catch(() => 'unreachable')))).every((state) => state === 'ok'),
        timeoutMs,
        100,
      ),
    async keysByPrimary(prefix) {
      const byPort = new Map<number, string[]>();
      for (const port of await primaries()) byPort.set(port, (await onNode(port, (r) => r.keys(`${prefix}*`))) as string[]);
      return byPort;
    },
    async close() {
      await Promise.all(servers.map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function onNode<T>(port: number, ask: (r: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 1_000 });
  redis.on('error', () => undefined);
  try {
    return await ask(redis);
  } finally {
    await closeRedis(redis);
  }
}

/**
 * What `redis-cli --cluster create` does, by hand so a named bus port is honoured: every node met,
 * the slots split evenly over the first `masters` nodes, each later node a replica of one of them.
 * Commands go to each node's plain port, which the tests keep open beside TLS.
 */
async function formCluster(servers: readonly PrivateRedis[], busPorts: readonly number[], masters: number): Promise<void> {
  const [first] = servers;
  if (!first) throw new Error('a cluster needs nodes');
  for (const [i, s] of servers.entries()) if (i > 0) await onNode(first.port, (r) => r.call('CLUSTER', 'MEET', '127.0.0.1', String(s.port), String(busPorts[i])));
  const per = Math.ceil(16_384 / masters);
  for (let m = 0; m < masters; m++) {
    const port = (servers[m] as PrivateRedis).port;
    await onNode(port, (r) => r.call('CLUSTER', 'ADDSLOTSRANGE', String(m * per), String(Math.min(16_383, (m + 1) * per - 1))));
  }
  await until('every node to know every other', async () => {
    const known = await Promise.all(servers.map(async (s) => ((await onNode(s.port, (r) => r.call('CLUSTER', 'NODES'))) as string).trim().split('\n').length));
    return known.every((n) => n === servers.length);
  }, 20_000, 100);
  for (let i = masters; i < servers.length; i++) {
    const primary = (servers[i % masters] as PrivateRedis).port;
    const id = (await onNode(primary, (r) => r.call('CLUSTER', 'MYID'))) as string;
    await onNode((servers[i] as PrivateRedis).port, (r) => r.call('CLUSTER', 'REPLICATE', id));
  }
  // A replica promoted before its first sync would take over with no data at all.
  await until('every replica in sync with its primary', async () => {
    const links = await Promise.all(servers.slice(masters).map(async (s) => /master_link_status:up/.test((await onNode(s.port, (r) => r.info('replication'))) as string)));
    return links.every(Boolean);
  }, 20_000, 100);
}

async function clusterState(port: number): Promise<string> {
  const info = (await onNode(port, (r) => r.call('CLUSTER', 'INFO'))) as string;
  return /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
}
