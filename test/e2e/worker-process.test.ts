import { QueueEvents } from 'bullmq';
import { SmsCodeTemp } from '../../entities';
import { smsCodeCleanup } from '../../jobs';
import { createEnqueue } from '../../workers/enqueue';
import { QueueSet } from '../../workers/queues';
import { clearTables, openTestDataSource } from '../support/db';
import { TEST_REDIS_URL, childEnv, testConfig } from '../support/env';
import { spawnBuilt } from '../support/processes';
import { deletePrefix, testPrefix, testQueueEvents, testRedis } from '../support/queues';

describe('the worker process (dist/workers/worker.main.js)', () => {
  it('processes an sms-code-cleanup job enqueued from another process, then stops cleanly on SIGTERM', async () => {
    const prefix = testPrefix(__filename);
    const db = await openTestDataSource(testConfig());
    const redis = await testRedis();
    const queues = new QueueSet(redis, prefix);
    const events: QueueEvents = await testQueueEvents('messages', prefix);
    await clearTables(db, [SmsCodeTemp]);
    const past = new Date(Date.now() - 3_600_000);
    const future = new Date(Date.now() + 3_600_000);
    await db.getRepository(SmsCodeTemp).insert([
      { phone: '13700000001', code: '111111', expireTime: past },
      { phone: '13700000002', code: '222222', expireTime: past },
      { phone: '13700000003', code: '333333', expireTime: future },
    ]);

    const worker = spawnBuilt('workers/worker.main.js', childEnv({ HUB_QUEUE_PREFIX: prefix, HUB_QUEUES: 'messages', HUB_MIGRATE_ON_START: 'true' }));
    try {
      await worker.waitFor(/"msg":"workers started"/);
      const { id } = await createEnqueue(queues)(smsCodeCleanup, {});
      const result = await (await queues.get('messages').getJob(id))?.waitUntilFinished(events, 20_000);
      expect(result).toEqual({ status: 'done', result: { deleted: 2 } });
      expect((await db.getRepository(SmsCodeTemp).find()).map((r) => r.phone)).toEqual(['13700000003']);
      expect(worker.stdout()).toMatch(/"job":"sms-code-cleanup".*"msg":"job finished"/);
    } finally {
      worker.child.kill('SIGTERM');
    }
    expect(await worker.exited()).toBe(0);
    expect(worker.stdout()).toContain('"msg":"shut down cleanly"');

    await events.close();
    await queues.close();
    await deletePrefix(redis, prefix);
    await redis.quit();
    await clearTables(db, [SmsCodeTemp]);
    await db.destroy();
  });

  it('refuses to start on a bad environment, naming every bad variable', async () => {
    const worker = spawnBuilt('workers/worker.main.js', childEnv({ MYSQL_URL: 'nonsense', REDIS_URL: TEST_REDIS_URL.replace('redis', 'http'), HUB_QUEUES: 'messages,nowhere', HUB_SHUTDOWN_GRACE_MS: '-1' }));
    expect(await worker.exited()).toBe(1);
    for (const name of ['MYSQL_URL', 'REDIS_URL', 'HUB_QUEUES', 'HUB_SHUTDOWN_GRACE_MS']) expect(worker.stderr()).toContain(`- ${name}:`);
  });
});
