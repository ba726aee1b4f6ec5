import { Queue, Worker } from 'bullmq';
import { closeRedis, createRedis, waitForRedis, type RedisConnection } from '../../lib/redis';
import { hubRedisKeys } from '../../lib/redis-keys';
import { testConfig } from '../support/env';
import { freePort, startPrivateRedis, type PrivateRedis } from '../support/private-redis';
import { testPrefix } from '../support/queues';
import { startPrivateCluster, type PrivateCluster } from '../support/redis-cluster';
import { redisTlsArgs } from '../support/redis-tls';
import { track } from '../support/resources';
import { makeTestCa, type TestCa } from '../support/test-ca';
import { until } from '../support/wait';

jest.setTimeout(60_000);

/**
 * TLS to Redis (rediss://, REDIS_TLS_CA/CERT/KEY) against private redis-servers with a test CA:
 * one server that requires a client certificate, and a three-primary cluster speaking TLS
 * throughout. The right CA connects; the wrong one, or no client certificate, is refused.
 */
describe('TLS to Redis', () => {
  const prefix = testPrefix(__filename);
  let ca: TestCa;
  let server: PrivateRedis;
  let tlsPort: number;
  const opened: RedisConnection[] = [];

  beforeAll(async () => {
    ca = await makeTestCa();
    tlsPort = await freePort();
    server = await startPrivateRedis({ args: redisTlsArgs(ca, tlsPort, { authClients: 'yes' }) });
  });
  afterAll(async () => {
    await Promise.all(opened.map(closeRedis));
    await server.close();
    ca.remove();
  });

  /**
   * A producer connection from the hub's configuration, with every error it meets. One meant to be
   * refused is closed but not tracked: ioredis leaves a connection closed between two reconnection
   * attempts in 'reconnecting' for good (no socket is left, but no 'end' comes either).
   */
  const connect = (env: Record<string, string>, refused = false): { redis: RedisConnection; errors: string[] } => {
    const config = testConfig({ HUB_QUEUE_PREFIX: prefix, ...env });
    const made = createRedis(config.redis, 'producer', 'jobhub-test');
    const redis = refused ? made : track({ kind: 'redis', value: made });
    opened.push(redis);
    const errors: string[] = [];
    redis.on('error', (err: Error) => errors.push(err.message));
    return { redis, errors };
  };
  const client = { REDIS_TLS_CERT: '', REDIS_TLS_KEY: '' };

  it('connects with the CA that signed the server, and runs a job over it', async () => {
    client.REDIS_TLS_CERT = ca.clientCertFile;
    client.REDIS_TLS_KEY = ca.clientKeyFile;
    const { redis } = connect({ REDIS_URL: `rediss://127.0.0.1:${tlsPort}`, REDIS_TLS_CA: ca.caFile, ...client });
    await waitForRedis(redis);
    expect(await redis.ping()).toBe('PONG');
    const queue = new Queue('tls', { connection: redis, prefix });
    const workerConnection = track({ kind: 'redis', value: createRedis(testConfig({ REDIS_URL: `rediss://127.0.0.1:${tlsPort}`, REDIS_TLS_CA: ca.caFile, ...client }).redis, 'worker') });
    opened.push(workerConnection);
    const ran: string[] = [];
    const worker = track({ kind: 'worker', value: new Worker('tls', async (job) => void ran.push(job.id ?? ''), { connection: workerConnection, prefix }) });
    try {
      await queue.add('probe', {}, { jobId: 'over-tls' });
      await until('the job ran over TLS', () => ran.includes('over-tls'), 10_000);
    } finally {
      await worker.close();
      await queue.close();
    }
  });

  it('refuses a server its CA did not sign', async () => {
    const { redis, errors } = connect({ REDIS_URL: `rediss://127.0.0.1:${tlsPort}`, REDIS_TLS_CA: ca.wrongCaFile, ...client }, true);
    await expect(waitForRedis(redis, 2_000)).rejects.toThrow(/not ready/);
    expect(errors.join('\n')).toMatch(/self[- ]signed certificate|unable to verify|unable to get local issuer/i);
  });

  it('is refused by a server that wants a client certificate when none is given', async () => {
    const { redis, errors } = connect({ REDIS_URL: `rediss://127.0.0.1:${tlsPort}`, REDIS_TLS_CA: ca.caFile }, true);
    await expect(waitForRedis(redis, 2_000)).rejects.toThrow(/not ready/);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('names the bad setting: an unreadable CA file, a certificate without its key', () => {
    expect(() => testConfig({ REDIS_TLS_CA: '/nonexistent/ca.pem' })).toThrow(/REDIS_TLS_CA: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/);
    expect(() => testConfig({ REDIS_TLS_CERT: ca.clientCertFile })).toThrow(/REDIS_TLS_KEY: required with REDIS_TLS_CERT/);
    expect(testConfig({ REDIS_URL: 'rediss://127.0.0.1:6380' }).redis.tls).toEqual({ ca: null, cert: null, key: null });
    expect(testConfig({}).redis.tls).toBeNull();
  });

  describe('on a cluster', () => {
    let cluster: PrivateCluster;
    beforeAll(async () => {
      cluster = await startPrivateCluster({ masters: 3, tls: ca });
    });
    afterAll(async () => {
      await cluster.close();
    });

    it('reaches every shard over TLS with the right CA, and none with the wrong one', async () => {
      const { redis } = connect({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_TLS_CA: ca.caFile });
      await waitForRedis(redis);
      const keys = hubRedisKeys(testConfig({ REDIS_CLUSTER_NODES: cluster.nodes, HUB_QUEUE_PREFIX: prefix }).redis);
      for (const name of ['payments', 'refunds', 'sms', 'email', 'sync', 'ops'] as const) await redis.set(keys.beside(name, 'tls-probe'), name);
      expect((await cluster.keysByPrimary(prefix)).size).toBe(3);
      expect([...(await cluster.keysByPrimary(prefix)).values()].filter((k) => k.length > 0).length).toBeGreaterThan(1);

      // Closed while the cluster is up: a cluster client closed after its nodes are gone waits for them.
      await closeRedis(redis);
      expect(redis.status).toBe('end');

      const wrong = connect({ REDIS_CLUSTER_NODES: cluster.nodes, REDIS_TLS_CA: ca.wrongCaFile }, true);
      await expect(waitForRedis(wrong.redis, 2_000)).rejects.toThrow(/not ready/);
    });
  });
});
