import type { DataSource } from 'typeorm';
import { closeRedis } from '../../lib/redis';
import { openTestDataSource } from '../support/db';
import { clearDemoTables, runDemoFlow } from '../support/demo-flow';
import { testConfig } from '../support/env';
import { deletePrefix, testPrefix, testRedis } from '../support/queues';

/** `npm start` with demo data (dist/server/hub.main.js, WeChat Pay emulator), on the suite's Redis. */
describe('npm start with demo data (dist/server/hub.main.js, WeChat Pay emulator)', () => {
  const prefix = testPrefix(__filename);
  let db: DataSource;

  beforeAll(async () => {
    db = await openTestDataSource(testConfig());
    await clearDemoTables(db);
  });
  afterAll(async () => {
    const redis = await testRedis();
    await deletePrefix(redis, prefix);
    await closeRedis(redis);
    await clearDemoTables(db);
    await db.destroy();
  });

  it('pays, syncs, closes and reconciles the demo orders with zero discrepancies', async () => {
    await runDemoFlow(db, { HUB_QUEUE_PREFIX: prefix });
  }, 180_000);
});
