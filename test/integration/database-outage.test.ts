import { In } from 'typeorm';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { buildRegistry } from '../../jobs/define-job';
import { hubCanary } from '../../jobs/ops/hub-canary.job';
import { isDatabaseUnavailableError, isTransientDatabaseError } from '../../lib/errors';
import { connectionChecks } from '../../lib/health';
import type { WorkerPool } from '../../workers/start-workers';
import { clearTables } from '../support/db';
import { testConfig, workerDatabase } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy';
import { until } from '../support/wait';

/**
 * MySQL taken away from this hub only (a TCP proxy in front of the shared server is cut): jobs that
 * meet the outage wait for it without using attempts, however many they have, and all run once
 * it is back. Before, 3 attempts went in a few milliseconds and the jobs failed for good.
 */
describe('a database outage', () => {
  let proxy: TcpProxy;
  let hub: TestHub;
  let pool: WorkerPool;
  const keys = Array.from({ length: 20 }, (_, i) => `outage-${i}`);

  beforeAll(async () => {
    const direct = testConfig();
    proxy = await startTcpProxy(direct.mysql.host, direct.mysql.port);
    const viaProxy = new URL(direct.mysql.url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    viaProxy.pathname = `/${workerDatabase()}`;
    hub = await openTestHub(__filename, { registry: buildRegistry([hubCanary]), mysqlUrl: viaProxy.toString() });
    await clearTables(hub.db, [HubCanary]);
    pool = hub.startWorkers([hubCanary.queue]);
  });
  afterAll(async () => {
    await proxy.restore();
    await pool.close();
    await clearTables(hub.db, [HubCanary]);
    await hub.close();
    await proxy.close();
  });

  it('is told apart from the job\'s own faults, and makes readiness fail', async () => {
    await proxy.cut();
    try {
      const err: unknown = await hub.db.query('SELECT 1').catch((e: unknown) => e);
      expect(isDatabaseUnavailableError(err)).toBe(true);
      expect(isTransientDatabaseError(err)).toBe(true);
      // A vendor's refused connection, wrapped as a job's cause, is not the database's outage.
      const vendor = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' });
      expect(isDatabaseUnavailableError(new Error('sms provider down', { cause: vendor }))).toBe(false);
      const mysql = connectionChecks(hub.db, hub.redis).find((c) => c.name === 'mysql');
      await expect(mysql?.run()).rejects.toThrow();
    } finally {
      await proxy.restore();
    }
  });

  it('spends no attempt: jobs enqueued and retried during it all run once it is back', async () => {
    await proxy.cut();
    const ids = await Promise.all(keys.map(async (key) => (await hub.enqueue(hubCanary, { key })).id));
    const queue = hub.queues.get(hubCanary.queue);
    await until('every job met the outage', () => (hub.logText().match(/database unavailable: the job waits for it/g) ?? []).length >= keys.length, 15_000, 100);
    // Held down well past the moment 3 immediate attempts would have failed them all.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const during = await Promise.all(ids.map((id) => queue.getJob(id)));
    expect(during.map((j) => j?.attemptsMade)).toEqual(keys.map(() => 0));
    expect(await queue.getFailedCount()).toBe(0);

    await proxy.restore();
    await until('every job completed', async () => (await queue.getCompletedCount()) === keys.length, 45_000, 250);
    expect(await queue.getFailedCount()).toBe(0);
    expect(await hub.db.getRepository(HubCanary).count({ where: { canaryKey: In(keys) } })).toBe(keys.length);
  }, 90_000);
});
