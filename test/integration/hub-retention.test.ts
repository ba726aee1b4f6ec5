import type { QueueEvents } from 'bullmq';
import { HubAlert } from '../../entities/hub/hub-alert.entity';
import { HubCanary } from '../../entities/hub/hub-canary.entity';
import { HubMessageDelivery, type DeliveryStatus } from '../../entities/hub/hub-message-delivery.entity';
import { HubOutbox, type OutboxStatus } from '../../entities/hub/hub-outbox.entity';
import { HubReconciliationBillRow } from '../../entities/hub/hub-reconciliation-bill-row.entity';
import { HubReconciliationRun, type ReconciliationRunStatus } from '../../entities/hub/hub-reconciliation-run.entity';
import { hubRetention } from '../../jobs/ops/hub-retention.job';
import { SCHEDULES } from '../../jobs/schedules';
import { parseBeijing } from '../../lib/time';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';

const NOW = parseBeijing('2026-12-03 03:40:00');
const daysAgo = (d: number): Date => new Date(NOW.getTime() - d * 86_400_000);
const TABLES = [HubOutbox, HubMessageDelivery, HubReconciliationBillRow, HubReconciliationRun, HubCanary, HubAlert];

describe('hub-retention', () => {
  let hub: TestHub;
  let events: QueueEvents;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { now: () => NOW });
    events = await testQueueEvents('ops', hub.prefix);
    hub.startWorkers(['ops']);
  });
  afterAll(async () => {
    await events.close();
    await clearTables(hub.db, TABLES);
    await hub.close();
  });
  beforeEach(() => clearTables(hub.db, TABLES));

  const run = async (payload: { batchSize?: number } = {}): Promise<unknown> => {
    const { id } = await hub.enqueue(hubRetention, payload);
    return (await hub.queues.get('ops').getJob(id))?.waitUntilFinished(events, 20_000);
  };

  async function seed(): Promise<void> {
    const outbox = (status: OutboxStatus, age: number, name: string) => ({ jobName: name, payload: {}, status, createdTime: daysAgo(age), updatedTime: daysAgo(age) });
    await hub.db.getRepository(HubOutbox).insert([
      outbox('DONE', 31, 'old-done'),
      outbox('FAILED', 40, 'old-failed'),
      outbox('DONE', 29, 'recent-done'),
      outbox('PENDING', 100, 'owed-pending'),
      outbox('ENQUEUED', 100, 'owed-enqueued'),
    ]);
    const delivery = (status: DeliveryStatus, age: number, key: string) => ({
      deliveryKey: key, channel: 'sms' as const, recipient: '13800000000', status, jobName: 'sms-send', payload: { deliveryKey: key }, createdTime: daysAgo(age), updatedTime: daysAgo(age),
    });
    await hub.db.getRepository(HubMessageDelivery).insert([
      delivery('SENT', 91, 'old-sent'),
      delivery('FAILED', 200, 'old-failed'),
      delivery('SENT', 89, 'recent-sent'),
      delivery('UNKNOWN', 200, 'unknown'),
      delivery('PENDING', 200, 'pending'),
      delivery('SENDING', 200, 'sending'),
    ]);
    const runRow = (status: ReconciliationRunStatus, age: number, day: string) => ({ channel: 'WECHAT', merchant: '1900000001', billDate: day, status, startedTime: daysAgo(age), createdTime: daysAgo(age), updatedTime: daysAgo(age) });
    const runs = await hub.db.getRepository(HubReconciliationRun).insert([runRow('COMPLETED', 40, '2026-10-20'), runRow('RUNNING', 40, '2026-10-21'), runRow('COMPLETED', 10, '2026-11-20')]);
    const [oldDone, oldRunning, recent] = runs.identifiers.map((i) => String(i.id)) as [string, string, string];
    const bill = (runId: string, n: number) => Array.from({ length: n }, (_, i) => ({ runId, outTradeNo: `T${runId}-${i}`, lineNo: i + 1, tradeState: 'SUCCESS', transactionId: `4200${i}`, orderAmount: '100', refundAmount: '0' }));
    await hub.db.getRepository(HubReconciliationBillRow).insert([...bill(oldDone, 7), ...bill(oldRunning, 2), ...bill(recent, 1)]);
    await hub.db.getRepository(HubCanary).insert([
      { canaryKey: 'old', jobId: '1', attempt: 1, createdTime: daysAgo(31) },
      { canaryKey: 'recent', jobId: '2', attempt: 1, createdTime: daysAgo(1) },
    ]);
  }

  it('deletes only finished rows past their age, in batches, and keeps every row still owed', async () => {
    await seed();
    expect(await run({ batchSize: 2 })).toEqual({ status: 'done', result: { outbox: 2, deliveries: 2, billRows: 7, canaries: 1, alerts: 0 } });
    expect((await hub.db.getRepository(HubOutbox).find({ order: { id: 'ASC' } })).map((r) => r.jobName)).toEqual(['recent-done', 'owed-pending', 'owed-enqueued']);
    expect((await hub.db.getRepository(HubMessageDelivery).find({ order: { id: 'ASC' } })).map((r) => r.deliveryKey)).toEqual(['recent-sent', 'unknown', 'pending', 'sending']);
    expect(await hub.db.getRepository(HubReconciliationRun).count()).toBe(3);
    expect(await hub.db.getRepository(HubReconciliationBillRow).count()).toBe(3);
    expect((await hub.db.getRepository(HubCanary).find()).map((r) => r.canaryKey)).toEqual(['recent']);
    // Again: nothing more goes.
    expect(await run()).toEqual({ status: 'done', result: { outbox: 0, deliveries: 0, billRows: 0, canaries: 0, alerts: 0 } });
  });

  it('is an ops job the clock runs nightly', () => {
    expect(hubRetention.queue).toBe('ops');
    expect(SCHEDULES.find((s) => s.job === hubRetention)?.cron).toBe('40 3 * * *');
  });
});
