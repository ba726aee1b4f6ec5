import type { QueueEvents } from 'bullmq';
import type { DataSource } from 'typeorm';
import { SmsCodeTemp } from '../../entities/customer-service/sms-code-temp.entity';
import type { QueueSet } from '../../workers/queues';
import { TEST_REDIS_URL, childEnv } from '../support/env';
import { openProcessHarness, type ProcessHarness } from '../support/process-harness';
import { spawnBuilt } from '../support/processes';

describe('the worker process (dist/workers/worker.main.js)', () => {
  describe('with MariaDB and Redis up', () => {
    let harness: ProcessHarness;
    let db: DataSource;
    let queues: QueueSet;
    let events: QueueEvents;

    beforeAll(async () => {
      harness = await openProcessHarness(__filename, 'ops', [SmsCodeTemp]);
      ({ db, queues, events } = harness);
    });
    afterAll(() => harness.close());

    it('processes an sms-code-cleanup job enqueued from another process, then stops cleanly on SIGTERM', async () => {
      const past = new Date(Date.now() - 3_600_000);
      const future = new Date(Date.now() + 3_600_000);
      await db.getRepository(SmsCodeTemp).insert([
        { phone: '13700000001', code: '111111', expireTime: past },
        { phone: '13700000002', code: '222222', expireTime: past },
        { phone: '13700000003', code: '333333', expireTime: future },
      ]);

      const worker = spawnBuilt('workers/worker.main.js', childEnv({ HUB_QUEUE_PREFIX: harness.prefix, HUB_QUEUES: 'ops', HUB_MIGRATE_ON_START: 'true' }));
      try {
        await worker.waitFor(/"msg":"workers started"/);
        const cli = spawnBuilt('workers/enqueue.main.js', childEnv({ HUB_QUEUE_PREFIX: harness.prefix }), ['sms-code-cleanup', '{"batchSize":1}']);
        expect(await cli.exited()).toBe(0);
        const { id } = JSON.parse(cli.stdout()) as { id: string };
        const result = await (await queues.get('ops').getJob(id))?.waitUntilFinished(events, 20_000);
        expect(result).toEqual({ status: 'done', result: { deleted: 2 } });
        expect((await db.getRepository(SmsCodeTemp).find()).map((r) => r.phone)).toEqual(['13700000003']);
        await worker.waitFor(/"job":"sms-code-cleanup".*"msg":"job finished"/);
      } finally {
        worker.child.kill('SIGTERM');
      }
      expect(await worker.exited()).toBe(0);
      expect(worker.stdout()).toContain('"msg":"shut down cleanly"');
      expect(worker.stdout()).not.toMatch(/137000000\d\d/);
    });
  });

  it('refuses to enqueue an invalid payload from the command line, naming the field', async () => {
    const cli = spawnBuilt('workers/enqueue.main.js', childEnv(), ['sms-code-cleanup', '{"batchSize":"many"}']);
    expect(await cli.exited()).toBe(1);
    expect(cli.stderr()).toContain('invalid payload: batchSize:');
  });

  it('refuses to start on a bad environment, naming every bad variable', async () => {
    const worker = spawnBuilt('workers/worker.main.js', childEnv({ MYSQL_URL: 'nonsense', REDIS_URL: TEST_REDIS_URL.replace('redis', 'http'), HUB_QUEUES: 'messages,nowhere', HUB_SHUTDOWN_GRACE_MS: '-1' }));
    expect(await worker.exited()).toBe(1);
    for (const name of ['MYSQL_URL', 'REDIS_URL', 'HUB_QUEUES', 'HUB_SHUTDOWN_GRACE_MS']) expect(worker.stderr()).toContain(`- ${name}:`);
  });
});
