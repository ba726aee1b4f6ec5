import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { applyBusinessSchema } from '../../entities/schema/apply-business-schema';
import { withServerConnection } from '../../entities/schema/mysql-server';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { createLogger } from '../../lib/logger';
import { closeRedis } from '../../lib/redis';
import { openTestDataSource } from '../support/db';
import { TEST_DB_PATTERN, TEST_MYSQL_SERVER, TEST_REDIS_URL, testConfig, workerDatabase } from '../support/env';
import { installLikeTheImage, loggedPort, spawnInstalled, type InstalledCopy } from '../support/installed-hub';
import { startProductionPeers, type ProductionPeers } from '../support/production-peers';
import type { HubProcess } from '../support/processes';
import { deletePrefix, testPrefix, testRedis } from '../support/queues';
import { until } from '../support/wait';

/**
 * The hub as the image installs it (test/support/image.ts: the Dockerfile's copied paths and its
 * `npm ci --omit=dev`), run as production runs it: HUB_ENV=production, the release step on a fresh
 * database, then web, worker and clock, every outside system reached by live settings. A runtime
 * import of a development dependency, or a file read outside what the image copies, fails here.
 */

const TOKEN = 'production-install-token-0123456789';
const BOARD = { username: 'ops-admin', password: 'a-long-production-password' };
const ROLES = { web: 'web listening', worker: 'metrics listening', clock: 'metrics listening' } as const;
type Role = keyof typeof ROLES;
const STARTED: Record<Role, RegExp> = { web: /"msg":"web listening"/, worker: /"msg":"workers started"/, clock: /"msg":"clock started"/ };

describe('the production install (the image\'s runtime stage, run in a scratch folder)', () => {
  const database = `${workerDatabase()}_install`;
  const demoDatabase = `${workerDatabase()}_demo`;
  const prefix = testPrefix(__filename);
  const demoPrefix = testPrefix(`${__filename}-demo`);
  const server = testConfig().mysql;
  let installed: InstalledCopy | undefined;
  let peers: ProductionPeers | undefined;
  const copyOf = (): InstalledCopy => {
    if (!installed) throw new Error('the install did not complete');
    return installed;
  };

  beforeAll(async () => {
    await withServerConnection(server, async (conn) => {
      for (const name of [database, demoDatabase]) {
        if (!TEST_DB_PATTERN.test(name)) throw new Error(`${name} is not a test database name`);
        await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
        await conn.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
      }
    });
    // npm ci of the production dependencies: about ten seconds from npm's cache on an idle machine.
    installed = await installLikeTheImage();
  }, 180_000);

  afterAll(async () => {
    await peers?.stop();
    const redis = await testRedis();
    for (const p of [prefix, demoPrefix]) await deletePrefix(redis, p);
    await closeRedis(redis);
    await withServerConnection(server, async (conn) => {
      for (const name of [database, demoDatabase]) await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
    });
    // A whole node_modules: on a busy disk this alone can take half a minute.
    await installed?.remove();
  }, 120_000);

  it('installs without development dependencies, migrates, starts web, worker and clock, runs a job, and stops cleanly', async () => {
    const copy = copyOf();
    for (const dev of ['jest', 'ts-jest', 'eslint', 'pino-pretty']) expect(existsSync(join(copy.dir, 'node_modules', dev))).toBe(false);
    expect(existsSync(join(copy.dir, 'node_modules', 'bullmq'))).toBe(true);

    // The business systems own their tables: in production they are there before the hub is.
    const mysqlUrl = `${TEST_MYSQL_SERVER}/${database}`;
    await applyBusinessSchema(testConfig({ MYSQL_URL: mysqlUrl }), createLogger({ level: 'silent' }));

    peers = await startProductionPeers(copy.dir);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      HUB_ENV: 'production',
      LOG_LEVEL: 'info',
      MYSQL_URL: mysqlUrl,
      REDIS_URL: TEST_REDIS_URL,
      HUB_QUEUE_PREFIX: prefix,
      HUB_API_TOKENS: `install:${TOKEN}:business|ops`,
      BOARD_USERNAME: BOARD.username,
      BOARD_PASSWORD: BOARD.password,
      // The release step migrated; processes of a production deploy do not.
      HUB_MIGRATE_ON_START: 'false',
      // Free ports, logged by each process.
      HUB_PORT: '0',
      HUB_METRICS_PORT: '0',
      HUB_SHUTDOWN_GRACE_MS: '5000',
      ...peers.env,
    };

    const release = spawnInstalled(copy, 'release', env);
    const released = await release.exited();
    expect({ code: released, stderr: release.stderr() }).toEqual({ code: 0, stderr: '' });

    const processes: Partial<Record<Role, HubProcess>> = {};
    try {
      for (const role of Object.keys(ROLES) as Role[]) processes[role] = spawnInstalled(copy, role, env);
      const all = processes as Record<Role, HubProcess>;
      await Promise.all((Object.keys(ROLES) as Role[]).map((role) => all[role].waitFor(STARTED[role], 60_000)));
      await Promise.all((['worker', 'clock'] as const).map((role) => all[role].waitFor(/"msg":"metrics listening"/, 15_000)));
      const ports = Object.fromEntries((Object.keys(ROLES) as Role[]).map((role) => [role, loggedPort(all[role], ROLES[role])])) as Record<Role, number>;
      for (const role of Object.keys(ROLES) as Role[]) {
        await until(`${role} ready`, async () => (await fetch(`http://127.0.0.1:${ports[role]}/readyz`).catch(() => null))?.status === 200, 30_000, 200);
      }

      const web = `http://127.0.0.1:${ports.web}`;
      // The dashboard's page comes from a template outside dist/: the image must hold it.
      const board = await fetch(`${web}/admin/queues`, { headers: { authorization: `Basic ${Buffer.from(`${BOARD.username}:${BOARD.password}`).toString('base64')}` } });
      expect(board.status).toBe(200);
      expect(await board.text()).toContain('<html');
      const auth = { authorization: `Bearer ${TOKEN}` };
      const key = `install-${prefix.slice(-6)}`;
      const enqueued = await fetch(`${web}/api/v1/jobs/hub-canary`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': key },
        body: JSON.stringify({ key }),
      });
      expect(enqueued.status).toBe(202);
      const { id } = (await enqueued.json()) as { id: string };
      let job: Record<string, unknown> = {};
      await until(
        'the canary job completed',
        async () => {
          job = (await (await fetch(`${web}/api/v1/jobs/hub-canary/${id}`, { headers: auth })).json()) as Record<string, unknown>;
          return job.state === 'completed' || job.state === 'failed';
        },
        30_000,
        200,
      );
      expect(job).toMatchObject({ state: 'completed', result: { status: 'done', result: { key } } });
      // hub_canary exists only because the release step created it: no process migrated.
      const db = await openTestDataSource(testConfig({ MYSQL_URL: mysqlUrl }));
      try {
        expect(await db.getRepository(HubCanary).findOneBy({ canaryKey: key })).toMatchObject({ jobId: id });
      } finally {
        await db.destroy();
      }
    } finally {
      const running = Object.values(processes);
      for (const proc of running) proc.child.kill('SIGTERM');
      const codes = await Promise.all(running.map((proc) => proc.exited()));
      const tails = running.map((proc) => `${proc.stdout().slice(-3_000)}${proc.stderr().slice(-3_000)}`).join('\n---\n');
      expect({ codes, tails: codes.every((c) => c === 0) ? '' : tails }).toEqual({ codes: running.map(() => 0), tails: '' });
    }
  }, 120_000);

  it('runs the demo from the same files, as `docker compose up` does: development, every emulator, demo data', async () => {
    const demoUrl = `${TEST_MYSQL_SERVER}/${demoDatabase}`;
    const hub = spawnInstalled(copyOf(), 'hub', {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      MYSQL_URL: demoUrl,
      REDIS_URL: TEST_REDIS_URL,
      HUB_QUEUE_PREFIX: demoPrefix,
      HUB_PORT: '0',
      HUB_METRICS_PORT: '0',
      HUB_SHUTDOWN_GRACE_MS: '5000',
    });
    try {
      // The business tables come from entities/business-schema, outside dist/: the image must hold them.
      await hub.waitFor(/"msg":"demo school data at the school system emulator/, 90_000);
      const run = /"outTradeNoPrefix":"(DEMO\d+)"/.exec(hub.stdout())?.[1];
      expect(run).toBeDefined();
      const db = await openTestDataSource(testConfig({ MYSQL_URL: demoUrl }));
      try {
        const payStatus = async (): Promise<string | undefined> => (await db.getRepository(PaymentOrder).findOneBy({ outTradeNo: `${run}A` }))?.payStatus;
        await until('the demo order paid through the emulator\'s callback', async () => (await payStatus()) === 'PAY_SUCCESS', 30_000, 200);
      } finally {
        await db.destroy();
      }
    } finally {
      hub.child.kill('SIGTERM');
    }
    expect({ code: await hub.exited(), stderr: hub.stderr() }).toEqual({ code: 0, stderr: '' });
  }, 150_000);
});
