import { simpleParser } from 'mailparser';
import { z } from 'zod';
import { EmailRecord } from '../../entities/customer-service/email-record.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { buildRegistry, defineJob, type JobDefinition } from '../../jobs/define-job';
import { emailSend } from '../../jobs/messaging/email-send.job';
import { alertOps, raiseAlert, type AlertContext } from '../../jobs/messaging/alert-ops';
import { deliveryJobId, recordDelivery } from '../../jobs/messaging/delivery';
import { PermanentError } from '../../lib/errors';
import { parseBeijing } from '../../lib/time';
import { DELIVERY_SWEEPERS } from '../../workers/delivery-sweeper';
import { failedJobsWatch } from '../../workers/failed-jobs-watch';
import { sweepOnce, type SweepDeps } from '../../workers/sweeper';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { until } from '../support/wait';

const alwaysFails = defineJob({
  name: 'test-always-fails',
  queue: 'messages',
  description: 'fails for good, to fill a failed set',
  payload: z.strictObject({ n: z.number() }),
  async handle() {
    throw new PermanentError('TEST', 'this job always fails');
  },
});

const registry = buildRegistry([emailSend, alwaysFails] as JobDefinition[]);
const OPS = ['ops@example.com', 'oncall@example.com'];
const TEN_AM = parseBeijing('2026-12-01 10:00:00');
const emailSweeper = DELIVERY_SWEEPERS.find((s) => s.name === 'message-delivery-email');

/** Ops alerts by e-mail, the delivery sweeper and the failed-jobs watch: real workers, the SMTP emulator. */
describe('ops alerts and lost deliveries', () => {
  let hub: TestHub;
  const smtp = () => {
    const emu = hub.integrations.emulators.smtp;
    if (!emu) throw new Error('no SMTP emulator');
    return emu;
  };
  const ctx = (now: Date): AlertContext => ({ db: hub.db, log: hub.log, now: () => now, enqueue: hub.enqueue, config: hub.config });
  const sweepDeps = (aheadMs: number): SweepDeps => ({ db: hub.db, redis: hub.redis, queues: hub.queues, registry, log: hub.log, now: () => new Date(Date.now() + aheadMs) });
  const subjects = async (): Promise<string[]> => Promise.all(smtp().received.map(async (m) => (await simpleParser(m.raw)).subject ?? ''));
  const deliveries = () => hub.db.getRepository(HubMessageDelivery).find({ order: { id: 'ASC' } });

  beforeAll(async () => {
    hub = await openTestHub(__filename, { messaging: true, registry, env: { OPS_EMAILS: OPS.join(','), HUB_ALERT_FAILED_THRESHOLD: '3' } });
  });
  afterAll(async () => {
    await clearTables(hub.db, [HubMessageDelivery, EmailRecord]);
    await hub.close();
  });
  beforeEach(async () => {
    await clearTables(hub.db, [HubMessageDelivery, EmailRecord]);
    smtp().received.length = 0;
  });

  it('mails ops once per subject and Beijing hour, to every OPS_EMAILS address', async () => {
    const pool = hub.startWorkers(['email']);
    for (let i = 0; i < 3; i += 1) await raiseAlert(ctx(TEN_AM), 'refund-failed', 'WeChat Pay refund failed', { outRefundNo: `R${i}` });
    await raiseAlert(ctx(TEN_AM), 'reconciliation-failed', 'bill 2026-11-30 of 1900000001 could not be reconciled');
    await raiseAlert(ctx(new Date(TEN_AM.getTime() + 3_600_000)), 'refund-failed', 'WeChat Pay refund failed', { outRefundNo: 'R9' });
    await until('three alert mails', () => smtp().received.length === 3);
    expect((await subjects()).sort()).toEqual([
      '[jobhub] reconciliation-failed: bill 2026-11-30 of 1900000001 could not be reconciled',
      '[jobhub] refund-failed: WeChat Pay refund failed',
      '[jobhub] refund-failed: WeChat Pay refund failed',
    ]);
    expect(smtp().received.every((m) => [...m.to].sort().join() === [...OPS].sort().join())).toBe(true);
    const first = await simpleParser(smtp().received.find((m) => m.raw.includes('R0'))?.raw ?? '');
    expect(first.text).toContain('outRefundNo: R0');
    expect((await deliveries()).map((d) => d.status)).toEqual(['SENT', 'SENT', 'SENT']);
    await pool.close();
  });

  it('an alert whose job could not be enqueued is mailed by the sweeper, once', async () => {
    const noRedis: AlertContext = { ...ctx(new Date()), enqueue: () => Promise.reject(new Error('Redis is down')) };
    await alertOps(noRedis, 'payment-unknown-order: WeChat Pay reported a payment we have no order for', 'details');
    const [row] = await deliveries();
    expect(row).toMatchObject({ status: 'PENDING', channel: 'email', jobName: 'email-send' });
    expect(await hub.queues.get('email').getJob(deliveryJobId(row?.deliveryKey ?? ''))).toBeUndefined();
    if (!emailSweeper) throw new Error('no e-mail delivery sweeper');
    expect(await sweepOnce(sweepDeps(0), emailSweeper)).toBe(0); // younger than a sweep period: maybe on its way
    expect(await sweepOnce(sweepDeps(120_000), emailSweeper)).toBe(1);
    const pool = hub.startWorkers(['email']);
    await until('the alert mailed', async () => (await deliveries())[0]?.status === 'SENT');
    expect(await sweepOnce(sweepDeps(120_000), emailSweeper)).toBe(0);
    expect(smtp().received).toHaveLength(1);
    await pool.close();
  });

  it('a delivery left SENDING by a job Redis lost is settled UNKNOWN by its restored job, never sent again', async () => {
    const key = 'lost-mid-call-1';
    const payload = { deliveryKey: key, to: ['parent@example.com'], subject: '课程变更', text: '周六课程改到周日。' };
    const now = new Date(Date.now() - 300_000);
    await recordDelivery(hub.db.manager, { key, channel: 'email', recipient: 'parent@example.com', jobName: emailSend.name, payload, jobId: 'api-crm-gone' }, now);
    await hub.db.getRepository(HubMessageDelivery).update({ deliveryKey: key }, { status: 'SENDING', sendingTime: now, attempts: 1 });
    if (!emailSweeper) throw new Error('no e-mail delivery sweeper');
    expect(await sweepOnce(sweepDeps(0), emailSweeper)).toBe(1);
    const pool = hub.startWorkers(['email']);
    await until('settled', async () => (await deliveries())[0]?.status === 'UNKNOWN');
    const [row] = await deliveries();
    expect(row).toMatchObject({ jobId: deliveryJobId(key), errorCode: 'OUTCOME_UNKNOWN' });
    expect(smtp().received).toHaveLength(0);
    await pool.close();
  });

  it('a queue whose failed jobs reach the threshold mails ops, once an hour', async () => {
    const watch = failedJobsWatch({ config: hub.config, enqueue: hub.enqueue });
    for (let n = 0; n < 2; n += 1) await hub.enqueue(alwaysFails, { n });
    const pool = hub.startWorkers(['messages', 'email']);
    await until('two failed', async () => (await hub.queues.get('messages').getFailedCount()) === 2);
    await sweepOnce(sweepDeps(0), watch);
    expect(await deliveries()).toHaveLength(0);
    await hub.enqueue(alwaysFails, { n: 2 });
    await until('three failed', async () => (await hub.queues.get('messages').getFailedCount()) === 3);
    await sweepOnce(sweepDeps(0), watch);
    await sweepOnce(sweepDeps(0), watch);
    await until('the alert mailed', () => smtp().received.length === 1);
    expect(await subjects()).toEqual(['[jobhub] queue-failed-jobs: queue messages has 3 or more failed jobs']);
    expect(await deliveries()).toHaveLength(1);
    await pool.close();
  });
});
