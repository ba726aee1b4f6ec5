import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { closeRedis } from '../../lib/redis';
import { freePort, startPrivateRedis, stopChild, type PrivateRedis } from './private-redis';
import { track } from './resources';
import { until } from './wait';

export const SENTINEL_MASTER = 'jobhub-test';

export interface PrivateSentinelSet {
  /** `127.0.0.1:<port>` of the one sentinel (quorum 1). */
  readonly sentinels: string;
  readonly primary: PrivateRedis;
  readonly replica: PrivateRedis;
  /** The port the sentinel names as primary now. */
  primaryPort(): Promise<number>;
  close(): Promise<void>;
}

/**
 * A primary, its replica and a sentinel watching them, all private (own ports, nothing on disk
 * but the sentinel's config): the primary can be killed and the sentinel promotes the replica
 * within a few seconds (down after 1 s).
 */
export async function startSentinelSet(): Promise<PrivateSentinelSet> {
  const primary = await startPrivateRedis();
  const replica = await startPrivateRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  const dir = mkdtempSync(join(tmpdir(), 'jobhub-sentinel-'));
  const port = await freePort();
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${primary.port} 1`,
      `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
      `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
      `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  track({ kind: 'closable', label: `redis sentinel :${port}`, value: { isOpen: running } });
  const ask = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  ask.on('error', () => undefined);
  const primaryPort = async (): Promise<number> => {
    const [, p] = (await ask.call('SENTINEL', 'get-master-addr-by-name', SENTINEL_MASTER)) as [string, string];
    return Number(p);
  };
  // Ready once the sentinel knows the replica too: before that it could promote nothing.
  await until(
    'the sentinel sees the primary and its replica',
    async () => {
      try {
        const replicas = (await ask.call('SENTINEL', 'replicas', SENTINEL_MASTER)) as string[][];
        return replicas.some((fields) => fields.includes(String(replica.port)) && fields.join(' ').includes('slave'));
      } catch {
        return false;
      }
    },
    20_000,
    200,
  );
  return {
    sentinels: `127.0.0.1:${port}`,
    primary,
    replica,
    primaryPort,
    async close() {
      await closeRedis(ask);
      await stopChild(child, 'SIGKILL');
      await Promise.all([primary.close(), replica.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
