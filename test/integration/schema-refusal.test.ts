import type { QueueEvents } from 'bullmq';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { applyBusinessSchema } from '../../entities/schema/apply-business-schema';
import { migrate } from '../../entities/schema/migrate';
import { hubCanary } from '../../jobs/ops/hub-canary.job';
import { smsCodeCleanup } from '../../jobs/ops/sms-code-cleanup.job';
import { createLogger } from '../../lib/logger';
import { buildApp } from '../../server/app';
import { connectionChecks } from '../../lib/health';
import { startSchemaGuard, type SchemaGuard } from '../../workers/schema-guard';
import { TEST_MYSQL_SERVER, testConfig, workerDatabase } from '../support/env';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';

const scratch = `${workerDatabase()}_refusal`;
const mysqlUrl = `${TEST_MYSQL_SERVER}/${scratch}`;

/** A deployment whose hub_canary lost its primary key: the canary must refuse to run, other jobs carry on. */
describe('a job whose unique key is missing', () => {
  let hub: TestHub;
  let guard: SchemaGuard;
  let events: QueueEvents;

  beforeAll(async () => {
    const config = testConfig({ MYSQL_URL: mysqlUrl });
    const silent = createLogger({ level: 'silent' });
    await applyBusinessSchema(config, silent);
    await migrate(config, silent);
    hub = await openTestHub(__filename, { mysqlUrl });
    await hub.db.query('ALTER TABLE hub_canary DROP PRIMARY KEY');
    guard = await startSchemaGuard(hub.db, silent);
    events = await testQueueEvents('ops', hub.prefix);
  });
  afterAll(async () => {
    guard.stop();
    await events.close();
    await hub.db.query(`DROP DATABASE \`${scratch}\``);
    await hub.close();
  });

  it('fails at once, without retries, saying which key, and writes nothing; a job on intact tables runs', async () => {
    const pool = hub.startWorkers(['ops'], { schema: guard });
    try {
      const refused = await hub.enqueue(hubCanary, { key: 'no-key' });
      const job = await hub.queues.get('ops').getJob(refused.id);
      await expect(job?.waitUntilFinished(events, 10_000)).rejects.toThrow(
        `SCHEMA_MISMATCH: schema check: ${scratch}.hub_canary: unique key (canary_key) missing: duplicates would no longer be refused`,
      );
      const failed = await hub.queues.get('ops').getJob(refused.id);
      expect(failed?.attemptsMade).toBe(1);
      expect(await failed?.getState()).toBe('failed');
      expect(await hub.db.getRepository(HubCanary).count()).toBe(0);

      const fine = await hub.enqueue(smsCodeCleanup, {});
      const result = await (await hub.queues.get('ops').getJob(fine.id))?.waitUntilFinished(events, 10_000);
      expect(result).toEqual({ status: 'done', result: { deleted: 0 } });
    } finally {
      await pool.close();
    }
  });

  it('makes /readyz answer 503, naming the missing key', async () => {
    const app = await buildApp({
      config: hub.config,
      log: hub.log,
      db: hub.db,
      redis: hub.redis,
      queues: hub.queues,
      registry: new Map(),
      readiness: [...connectionChecks(hub.db, hub.redis), guard.readiness],
    });
    try {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      const body = res.json<{ checks: Record<string, { ok: boolean; error?: string }> }>();
      expect(body.checks.mysql?.ok).toBe(true);
      expect(body.checks.schema?.ok).toBe(false);
      expect(body.checks.schema?.error).toContain(`${scratch}.hub_canary: unique key (canary_key) missing`);
    } finally {
      await app.close();
    }
  });
});
