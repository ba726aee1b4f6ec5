import type { QueueEvents } from 'bullmq';
import { SmsCodeTemp } from '../../entities/customer-service/sms-code-temp.entity';
import { smsCodeCleanup } from '../../jobs/ops/sms-code-cleanup.job';
import { parseBeijing } from '../../lib/time';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';

const NOW = parseBeijing('2026-11-23 10:00:00');

/** `count` codes whose expiry is `offsetMs` from NOW, inserted in one statement. */
async function insertCodes(hub: TestHub, count: number, offsetMs: number): Promise<void> {
  const rows = Array.from({ length: count }, (_, i) => ({
    phone: `139${String(i).padStart(8, '0')}`,
    code: String(100000 + (i % 900000)),
    expireTime: new Date(NOW.getTime() + offsetMs),
    createdAt: new Date(NOW.getTime() - 600_000),
  }));
  for (let i = 0; i < rows.length; i += 2_000) await hub.db.getRepository(SmsCodeTemp).insert(rows.slice(i, i + 2_000));
}

describe('sms-code-cleanup', () => {
  let hub: TestHub;
  let events: QueueEvents;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { now: () => NOW });
    events = await testQueueEvents('ops', hub.prefix);
    hub.startWorkers(['ops']);
  });
  afterAll(async () => {
    await events.close();
    await clearTables(hub.db, [SmsCodeTemp]);
    await hub.close();
  });
  beforeEach(() => clearTables(hub.db, [SmsCodeTemp]));

  const run = async (batchSize: number): Promise<unknown> => {
    const { id } = await hub.enqueue(smsCodeCleanup, { batchSize });
    const job = await hub.queues.get('ops').getJob(id);
    return job?.waitUntilFinished(events, 20_000);
  };

  it('deletes exactly the expired rows, in batches, and returns the count', async () => {
    await insertCodes(hub, 1_234, -1);        // expired a millisecond ago
    await insertCodes(hub, 300, 0);           // expires exactly now: still valid
    await insertCodes(hub, 200, 60_000);      // valid for another minute
    const result = await run(100);
    expect(result).toEqual({ status: 'done', result: { deleted: 1_234 } });
    const left = await hub.db.getRepository(SmsCodeTemp).find();
    expect(left).toHaveLength(500);
    expect(left.every((row) => row.expireTime.getTime() >= NOW.getTime())).toBe(true);
  });

  it('changes nothing when run again', async () => {
    await insertCodes(hub, 50, -1);
    await insertCodes(hub, 20, 1);
    expect(await run(1_000)).toEqual({ status: 'done', result: { deleted: 50 } });
    expect(await run(1_000)).toEqual({ status: 'done', result: { deleted: 0 } });
    expect(await hub.db.getRepository(SmsCodeTemp).count()).toBe(20);
  });

  it('is safe to run twice at once: every expired row is deleted once', async () => {
    await insertCodes(hub, 6_000, -3_600_000);
    await insertCodes(hub, 100, 3_600_000);
    const results = (await Promise.all([run(500), run(500)])) as { result: { deleted: number } }[];
    const deleted = results.map((r) => r.result.deleted);
    expect(deleted.reduce((a, b) => a + b, 0)).toBe(6_000);
    expect(await hub.db.getRepository(SmsCodeTemp).count()).toBe(100);
  });

  it('reports progress as rows deleted', async () => {
    await insertCodes(hub, 30, -1);
    const { id } = await hub.enqueue(smsCodeCleanup, { batchSize: 10 });
    await (await hub.queues.get('ops').getJob(id))?.waitUntilFinished(events, 20_000);
    const job = await hub.queues.get('ops').getJob(id);
    expect(job?.progress).toEqual({ done: 30 });
  });
});
