import type { Job, QueueEvents } from 'bullmq';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import type { z } from 'zod';
import { EmailRecord } from '../../entities/customer-service/email-record.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import type { SmtpEmulator } from '../../integrations/mail/emulator/mail.emulator';
import { buildRegistry } from '../../jobs/define-job';
import { emailIdOf, emailMessageId, emailSend } from '../../jobs/messaging/email-send.job';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { until } from '../support/wait';

/** email-send through real workers, the pooled SMTP client and a real SMTP peer. */

const registry = buildRegistry([emailSend]);
let seq = 0;
const unique = (what: string): string => `${what}-${Date.now()}-${(seq += 1)}`;

const addresses = (a: AddressObject | AddressObject[] | undefined): string[] => (Array.isArray(a) ? a : a ? [a] : []).flatMap((o) => o.value.map((v) => v.address ?? ''));

describe('email-send', () => {
  let hub: TestHub;
  let events: QueueEvents;
  let smtp: SmtpEmulator;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { messaging: true, registry });
    await clearTables(hub.db, [HubMessageDelivery, EmailRecord]);
    const emulator = hub.integrations.emulators.smtp;
    if (!emulator) throw new Error('no SMTP emulator');
    smtp = emulator;
    events = await testQueueEvents('email', hub.prefix);
    hub.startWorkers(['email']);
  });
  afterEach(() => {
    smtp.behaviour = {};
  });
  afterAll(async () => {
    await events.close();
    await hub.close();
  });

  const queue = () => hub.queues.get('email');
  async function enqueue(payload: z.input<typeof emailSend.payload>, jobId?: string): Promise<Job> {
    const { id } = await hub.enqueue(emailSend, payload, jobId ? { jobId } : {});
    const job = await queue().getJob(id);
    if (!job) throw new Error(`job ${id} not found`);
    return job;
  }
  const fresh = async (job: Job): Promise<Job> => (await queue().getJob(job.id ?? '')) ?? job;
  const delivery = (key: string) => hub.db.getRepository(HubMessageDelivery).findOneByOrFail({ deliveryKey: key });
  const record = (key: string) => hub.db.getRepository(EmailRecord).findOneByOrFail({ emailId: emailIdOf(key) });
  /** Every message the peer took with this Message-ID, parsed. */
  const received = (key: string): Promise<ParsedMail[]> =>
    Promise.all(smtp.received.filter((m) => m.raw.includes(emailMessageId(key))).map((m) => simpleParser(m.raw)));

  it('delivers once: Chinese subject, cc, Message-ID as recorded; email_records sent', async () => {
    const key = unique('welcome');
    const result = await (
      await enqueue({ to: ['alice@example.com'], cc: ['bob@example.com', 'carol@example.com'], subject: '课程通知：明天上课', text: '请准时到达教室。', deliveryKey: key })
    ).waitUntilFinished(events, 20_000);
    const [mail, ...more] = await received(key);
    expect(more).toHaveLength(0);
    const row = await delivery(key);
    expect(result).toMatchObject({ status: 'done', result: { status: 'SENT', provider: 'smtp', providerMessageId: row.providerMessageId } });
    expect(mail?.subject).toBe('课程通知：明天上课');
    expect(mail?.text?.trim()).toBe('请准时到达教室。');
    expect(addresses(mail?.to)).toEqual(['alice@example.com']);
    expect(addresses(mail?.cc)).toEqual(['bob@example.com', 'carol@example.com']);
    expect(mail?.messageId).toBe(row.providerMessageId);
    expect(row).toMatchObject({ status: 'SENT', channel: 'email', recipient: 'alice@example.com', recordId: emailIdOf(key), error: null });
    expect(await record(key)).toMatchObject({ to: 'alice@example.com', cc: 'bob@example.com,carol@example.com', subject: '课程通知：明天上课', content: '请准时到达教室。', status: 1, errorMsg: null, sendTime: expect.any(Date) });
  });

  it('keeps the caller’s email_id and sends html alone', async () => {
    const key = unique('html');
    const emailId = unique('crm');
    await (await enqueue({ to: ['dan@example.com'], subject: 'Report', html: '<p>週報</p>', deliveryKey: key, emailId })).waitUntilFinished(events, 20_000);
    const [mail] = await received(key);
    expect(mail?.html).toContain('<p>週報</p>');
    expect(await hub.db.getRepository(EmailRecord).findOneByOrFail({ emailId })).toMatchObject({ status: 1, content: '<p>週報</p>', cc: null });
    expect(await delivery(key)).toMatchObject({ recordId: emailId, status: 'SENT' });
  });

  it.each([
    ['RCPT', (): void => void (smtp.behaviour = { rcpt: { 'slow@example.com': 450 } })],
    ['DATA', (): void => void (smtp.behaviour = { data: 450 })],
  ])('450 at %s: retried, then sent once the server takes it', async (_at, refuse) => {
    const key = unique('transient');
    refuse();
    const job = await enqueue({ to: ['slow@example.com'], subject: 'later', text: 'x', deliveryKey: key });
    await until('first attempt failed', async () => (await job.getState()) === 'delayed', 15_000);
    expect((await fresh(job)).attemptsMade).toBe(1);
    expect(await delivery(key)).toMatchObject({ status: 'PENDING', error: expect.stringContaining('450') });
    expect(await record(key)).toMatchObject({ status: 0 });
    expect(await received(key)).toHaveLength(0);

    smtp.behaviour = {};
    await job.promote();
    expect(await job.waitUntilFinished(events, 20_000)).toMatchObject({ status: 'done', result: { status: 'SENT' } });
    expect(await received(key)).toHaveLength(1);
    expect(await record(key)).toMatchObject({ status: 1 });
    expect(await delivery(key)).toMatchObject({ status: 'SENT', attempts: 2 });
  });

  it('550 for the only recipient: FAILED with the code, email_records 2, the job failed without a retry', async () => {
    const key = unique('unknown-user');
    smtp.behaviour = { rcpt: { 'nobody@example.com': 550 } };
    const job = await enqueue({ to: ['nobody@example.com'], subject: 'hi', text: 'x', deliveryKey: key });
    await expect(job.waitUntilFinished(events, 20_000)).rejects.toThrow(/SMTP_RECIPIENTS_REJECTED/);
    expect((await fresh(job)).attemptsMade).toBe(1);
    expect(await delivery(key)).toMatchObject({ status: 'FAILED', errorCode: 'SMTP_RECIPIENTS_REJECTED' });
    const row = await record(key);
    expect(row).toMatchObject({ status: 2, sendTime: null });
    expect(row.errorMsg).toMatch(/SMTP_RECIPIENTS_REJECTED.*550/);
    expect(await received(key)).toHaveLength(0);
  });

  it('one of two recipients refused: SENT to the other, the refused one named with its code', async () => {
    const key = unique('partial');
    smtp.behaviour = { rcpt: { 'gone@example.com': 550 } };
    await (await enqueue({ to: ['erin@example.com', 'gone@example.com'], subject: 'partial', text: 'x', deliveryKey: key })).waitUntilFinished(events, 20_000);
    const raw = smtp.received.filter((m) => m.raw.includes(emailMessageId(key)));
    expect(raw.map((m) => m.to)).toEqual([['erin@example.com']]);
    const row = await record(key);
    expect(row).toMatchObject({ status: 1, to: 'erin@example.com,gone@example.com' });
    expect(row.errorMsg).toMatch(/gone@example\.com \(550/);
    expect(row.errorMsg).not.toContain('erin@');
    expect(await delivery(key)).toMatchObject({ status: 'SENT', error: row.errorMsg });
  });

  it('the same delivery key as two jobs at once: one mail', async () => {
    const key = unique('twice');
    const jobs = await Promise.all(['a', 'b'].map((s) => enqueue({ to: ['frank@example.com'], subject: 'once', text: 'x', deliveryKey: key }, `${key}-${s}`)));
    const results = await Promise.all(jobs.map((j) => j.waitUntilFinished(events, 20_000)));
    expect(results.map((r) => (r as { status: string }).status).sort()).toEqual(['done', 'skipped']);
    expect(await received(key)).toHaveLength(1);
    expect(await hub.db.getRepository(EmailRecord).countBy({ emailId: emailIdOf(key) })).toBe(1);
  });

  it('refuses a payload without a body or with a bad address when enqueued', async () => {
    await expect(hub.enqueue(emailSend, { to: ['x@example.com'], subject: 's' })).rejects.toThrow(/text or html/);
    await expect(hub.enqueue(emailSend, { to: ['not-an-address'], subject: 's', text: 'x' })).rejects.toThrow(/to/);
  });
});
