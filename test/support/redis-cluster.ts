import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { closeRedis } from '../../lib/redis';
import { startPrivateRedis, type PrivateRedis } from './private-redis';
import { until } from './wait';

const run = promisify(execFile);

export interface PrivateCluster {
  /** `127.0.0.1:<port>,…` of every node: REDIS_CLUSTER_NODES. */
  readonly nodes: string;
  readonly servers: readonly PrivateRedis[];
  /** The nodes serving slots now, by port. */
  primaries(): Promise<number[]>;
  /** How many keys starting with `prefix` each primary holds, by port. */
  keysByPrimary(prefix: string): Promise<Map<number, string[]>>;
  close(): Promise<void>;
}

/**
 * A Redis Cluster of the test's own: `masters` primaries splitting the 16,384 slots, each with
 * `replicasPerMaster` replicas, on private ports. A node's failure is noticed after a second
 * (cluster-node-timeout), so a replica takes over a killed primary within a few seconds.
 */
export async function startPrivateCluster(options: { masters?: number; replicasPerMaster?: number } = {}): Promise<PrivateCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'jobhub-cluster-'));
  const servers: PrivateRedis[] = [];
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      servers.push(
        await startPrivateRedis({
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${i}.conf`), '--cluster-node-timeout', '1000'],
        }),
      );
    }
    const addresses = servers.map((s) => `127.0.0.1:${s.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 30_000 });
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
    nodes: servers.map((s) => `127.0.0.1:${s.port}`).join(','),
    servers,
    primaries,
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

async function clusterState(port: number): Promise<string> {
  const info = (await onNode(port, (r) => r.call('CLUSTER', 'INFO'))) as string;
  return /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
}
