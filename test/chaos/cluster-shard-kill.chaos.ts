import { setTimeout as sleep } from 'node:timers/promises';
import { In, type DataSource } from 'typeorm';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { byScale, recordRecovery } from '../support/chaos';
import { clearTables, openTestDataSource } from '../support/db';
import { TEST_MYSQL_SERVER, testConfig, workerDatabase } from '../support/env';
import { enqueueOverApi, jobStates, queueVerdict, startPrivateHub, type PrivateHub, type TrackedJob } from '../support/private-hub';
import { startPrivateCluster, type PrivateCluster } from '../support/redis-cluster';
import { until } from '../support/wait';

const TOKEN = 'chaos-cluster-token-0123456789abcdef';
const PREFIX = 'chaos-cluster';
const CANARIES = byScale(20, 60);

/**
 * A Redis Cluster of three primaries, each with a replica, under the hub (web, worker, clock):
 * the primary serving the `ops` queue (the canaries') is killed mid-work. The cluster promotes its
 * replica; the same processes carry on, every job Redis kept runs once, nothing fails for good.
 */
describe('a cluster shard\'s primary killed under the hub', () => {
  let cluster: PrivateCluster;
  let db: DataSource;
  let hub: PrivateHub;

  beforeAll(async () => {
    cluster = await startPrivateCluster({ masters: 3, replicasPerMaster: 1 });
    db = await openTestDataSource(testConfig());
    await clearTables(db, [HubCanary]);
    hub = await startPrivateHub({
      mysqlUrl: `${TEST_MYSQL_SERVER}/${workerDatabase()}`,
      redisUrl: 'redis://127.0.0.1:1',
      clusterNodes: cluster.nodes,
      prefix: PREFIX,
      token: TOKEN,
      env: { HUB_JOB_LOCK_MS: '3000', HUB_SWEEP_INTERVAL_MS: '5000' },
    });
  }, 120_000);

  afterAll(async () => {
    const codes = await hub?.close();
    if (db) await clearTables(db, [HubCanary]);
    await db?.destroy();
    await cluster?.close();
    expect(codes).toEqual({ web: 0, worker: 0, clock: 0 });
  }, 60_000);

  /** Enqueues over the API, again while the cluster answers 503 mid-failover (the same key: one job). */
  async function enqueueCanary(key: string, holdMs: number): Promise<TrackedJob> {
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(250)) {
      const { answer, job } = await enqueueOverApi(hub, 'hub-canary', { key, holdMs }, key);
      if (answer.status === 202) return job;
      expect({ key, status: answer.status, error: answer.body.error }).toMatchObject({ status: 503, error: 'queue_unavailable' });
    }
    throw new Error(`${key}: not accepted within 60 s; web /readyz ${JSON.stringify((await hub.readyz('web')).body)}\n${hub.tails()}`);
  }

  it('runs every job the cluster kept, once, through the failover, without a restart', async () => {
    const jobs: TrackedJob[] = [];
    const keys: string[] = [];
    for (let i = 0; i < CANARIES / 2; i++) {
      keys.push(`before-${i}`);
      jobs.push(await enqueueCanary(`before-${i}`, 300));
    }
    // The shard holding the ops queue: its keys are all in the `{ops}` slot.
    const byPrimary = await cluster.keysByPrimary(`${PREFIX}:{ops}`);
    const opsPort = [...byPrimary].find(([, k]) => k.length > 0)?.[0];
    expect(opsPort).toBeDefined();
    const victim = cluster.servers.find((s) => s.port === opsPort);
    await until('a canary is running', async () => (await hub.queues.get('ops').getActiveCount()) > 0, 15_000, 50);
    await victim?.stop();
    const killed = Date.now();
    // The cluster's own recovery first (its replica promoted), so a failure below is the hub's.
    await until('the replica promoted', async () => {
      const primaries = await cluster.primaries();
      return primaries.length === 3 && !primaries.includes(opsPort as number);
    }, 30_000, 100);
    await cluster.untilHealthy(30_000);
    const promoted = Date.now();

    for (let i = 0; i < CANARIES / 2; i++) {
      keys.push(`after-${i}`);
      jobs.push(await enqueueCanary(`after-${i}`, 100));
    }
    const acceptedAgain = Date.now();

    const rows = (): Promise<HubCanary[]> => db.getRepository(HubCanary).find({ where: { canaryKey: In(keys) } });
    const statesOf = (): Promise<Map<string, string>> => jobStates(hub.queues, jobs);
    // Every job Redis still holds runs. A job the old primary acknowledged but had not yet passed to
    // its replica is gone with it (replication is asynchronous): counted, and only ever one added
    // before the kill; a canary has no MySQL record for a sweeper to rebuild it from.
    const settled = async (): Promise<boolean> => [...(await statesOf()).values()].every((state) => state === 'completed' || state === 'missing');
    await until('every canary Redis holds ran', settled, 90_000, 250).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify([...(await statesOf())])}\n${hub.tails()}`);
    });
    const done = Date.now();
    await until('ready again', async () => (await Promise.all((['web', 'worker', 'clock'] as const).map((r) => hub.readyz(r)))).every((r) => r.status === 200), 30_000, 250);
    const ready = Date.now();

    // A replica now serves the slots of the killed primary.
    expect(await cluster.primaries()).not.toContain(opsPort);
    expect((await cluster.primaries()).length).toBe(3);
    const states = await statesOf();
    const lost = keys.filter((_, i) => states.get(`ops/${(jobs[i] as TrackedJob).id}`) === 'missing');
    expect(lost.every((key) => key.startsWith('before-'))).toBe(true);
    expect(lost.length).toBeLessThanOrEqual(2);
    // Each canary Redis kept ran once, by its own job; nothing failed for good or left active; no process restarted.
    const written = await rows();
    expect(written.map((r) => r.canaryKey).sort()).toEqual(keys.filter((k) => !lost.includes(k)).sort());
    const ids = new Set(jobs.map((j) => j.id));
    expect(written.filter((r) => !ids.has(r.jobId))).toEqual([]);
    await until('nothing active', async () => (await queueVerdict(hub.queues)).active === 0, 15_000, 250);
    expect((await queueVerdict(hub.queues)).failed).toEqual([]);
    expect(hub.starts()).toEqual({ web: 1, worker: 1, clock: 1 });
    expect(hub.exited()).toEqual([]);

    recordRecovery({
      scenario: 'cluster-shard-kill',
      fault: 'the ops shard\'s primary SIGKILLed (3 primaries, 3 replicas)',
      recoveryMs: acceptedAgain - killed,
      detail: `replica promoted after ${((promoted - killed) / 1000).toFixed(1)} s; enqueues accepted again after ${((acceptedAgain - killed) / 1000).toFixed(1)} s, every canary Redis kept ran once after ${((done - killed) / 1000).toFixed(1)} s, ${lost.length} of ${keys.length} lost with the old primary's last writes (${lost.join(', ') || 'none'}), ready after ${((ready - killed) / 1000).toFixed(1)} s, 0 failed, 0 restarts`,
    });
  });
});
