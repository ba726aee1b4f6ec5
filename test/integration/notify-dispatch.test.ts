import type { Job, QueueEvents } from 'bullmq';
import { simpleParser } from 'mailparser';
import { AppUser } from '../../entities/app/user.entity';
import { EmailRecord } from '../../entities/customer-service/email-record.entity';
import { Notify } from '../../entities/customer-service/notify.entity';
import { Sms } from '../../entities/customer-service/sms.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { HubSmsTemplate } from '../../entities/hub/hub-sms-template.entity';
import { Member } from '../../entities/marketing/member.entity';
import type { AliyunSmsEmulator } from '../../integrations/sms/emulator/aliyun-sms.emulator';
import type { SmtpEmulator } from '../../integrations/mail/emulator/mail.emulator';
import { buildRegistry } from '../../jobs/define-job';
import { emailIdOf, emailMessageId, emailSend } from '../../jobs/messaging/email-send.job';
import { notifyDispatch } from '../../jobs/messaging/notify-dispatch.job';
import { smsSend } from '../../jobs/messaging/sms-send.job';
import { clearTables } from '../support/db';
import { approveSmsTemplate, messagingEmulators } from '../support/messaging';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';
import { until } from '../support/wait';

/** notifies rows → in-app / email-send / sms-send through real workers, the SMTP peer and the SMS emulators. */

const registry = buildRegistry([notifyDispatch, emailSend, smsSend]);
const TABLES = [Notify, HubMessageDelivery, EmailRecord, Sms, Member, AppUser];

interface Counts {
  inApp: number;
  email: number;
  sms: number;
  unresolved: number;
}

describe('notify-dispatch', () => {
  let hub: TestHub;
  let events: QueueEvents;
  let smtp: SmtpEmulator;
  let aliyun: AliyunSmsEmulator;
  let seq = 0;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { messaging: true, registry, env: { NOTIFY_RECIPIENTS: 'crm:member,app:user' } });
    await clearTables(hub.db, [...TABLES, HubSmsTemplate]);
    ({ smtp, aliyun } = messagingEmulators(hub));
    await approveSmsTemplate(hub, {
      templateKey: hub.config.messaging.notify.smsTemplate,
      content: '【通知】${title}：${content}',
      aliyunTemplateCode: 'SMS_300001',
      aliyunSignName: '测试签名',
      aliyunParams: { title: 'title', content: 'content' },
      tencentTemplateId: '300001',
      tencentSignName: '测试签名',
      tencentParams: ['title', 'content'],
      enabled: 1,
    });
    events = await testQueueEvents('messages', hub.prefix);
    hub.startWorkers(['messages', 'email', 'sms']);
  });
  afterAll(async () => {
    await events.close();
    await clearTables(hub.db, [HubSmsTemplate]);
    await hub.close();
  });
  beforeEach(() => clearTables(hub.db, TABLES));

  const member = async (o: { email?: string | null; mobile?: string | null; deleted?: number }): Promise<string> =>
    (await hub.db.getRepository(Member).save({ email: o.email ?? null, mobile: o.mobile ?? null, deleted: o.deleted ?? 0 })).id;
  const appUser = async (o: { email?: string | null; mobile?: string | null }): Promise<string> =>
    String((await hub.db.getRepository(AppUser).save({ email: o.email ?? null, mobile: o.mobile ?? null })).uid);
  async function notify(projectId: string, userId: string, type: number | null, title = '上课提醒', content = '明天九点'): Promise<string> {
    const notifyId = `n-${Date.now()}-${(seq += 1)}`;
    const at = new Date();
    await hub.db.getRepository(Notify).insert({ notifyId, projectId, userId, type, title, content, status: 0, createdAt: at, updatedAt: at });
    return notifyId;
  }
  const row = (notifyId: string) => hub.db.getRepository(Notify).findOneByOrFail({ notifyId });
  const dispatch = async (batchSize: number, jobId?: string): Promise<Counts> => {
    const { id } = await hub.enqueue(notifyDispatch, { batchSize }, jobId ? { jobId } : {});
    const job = (await hub.queues.get('messages').getJob(id)) as Job;
    return ((await job.waitUntilFinished(events, 20_000)) as { result: Counts }).result;
  };
  const settled = (notifyId: string, status: number) => until(`notify ${notifyId} status ${status}`, async () => (await row(notifyId)).status === status, 20_000);
  const mailsFor = (notifyId: string) => smtp.received.filter((m) => m.raw.includes(emailMessageId(`notify-${notifyId}`)));
  const smsTo = (phone: string) => aliyun.messages.filter((m) => m.phone.endsWith(phone));

  it('in-app rows marked sent at once; an e-mail and an SMS sent by their jobs settle their rows', async () => {
    const alice = await member({ email: 'alice@example.com', mobile: '13900000001' });
    const bob = await appUser({ mobile: '13900000002' });
    const inApp = [await notify('crm', alice, 1), await notify('app', bob, 1)];
    const byMail = await notify('crm', alice, 2, '课程通知', '请准时到达教室');
    const bySms = await notify('app', bob, 3, '上课', '九点');

    expect(await dispatch(2)).toEqual({ inApp: 2, email: 1, sms: 1, unresolved: 0 });
    for (const id of inApp) expect(await row(id)).toMatchObject({ status: 1, sendTime: expect.any(Date), errorMsg: null });

    await settled(byMail, 1);
    const [mail, ...moreMail] = mailsFor(byMail);
    expect(moreMail).toHaveLength(0);
    const parsed = await simpleParser(mail?.raw ?? '');
    expect(parsed.subject).toBe('课程通知');
    expect(parsed.text?.trim()).toBe('请准时到达教室');
    expect(mail?.to).toEqual(['alice@example.com']);
    expect(await hub.db.getRepository(EmailRecord).findOneByOrFail({ emailId: emailIdOf(`notify-${byMail}`) })).toMatchObject({ to: 'alice@example.com', subject: '课程通知', status: 1 });
    expect(await hub.db.getRepository(HubMessageDelivery).findOneByOrFail({ deliveryKey: `notify-${byMail}` })).toMatchObject({ status: 'SENT', notifyId: byMail, jobName: 'email-send' });

    await settled(bySms, 1);
    const [sms, ...moreSms] = smsTo('13900000002');
    expect(moreSms).toHaveLength(0);
    expect(sms).toMatchObject({ template: 'SMS_300001', sign: '测试签名' });
    expect(JSON.stringify(sms?.params)).toContain('九点');
    expect(await hub.db.getRepository(Sms).countBy({ phone: '13900000002' })).toBe(1);
    expect(await hub.db.getRepository(HubMessageDelivery).findOneByOrFail({ deliveryKey: `notify-${bySms}` })).toMatchObject({ status: 'SENT', notifyId: bySms, channel: 'sms' });
    expect(await row(bySms)).toMatchObject({ sendTime: expect.any(Date) });
  });

  it('rows that cannot be sent end 2 with the reason; nothing is recorded for them', async () => {
    const noEmail = await member({ mobile: '13900000003' });
    const deleted = await member({ email: 'gone@example.com', deleted: 1 });
    const noMobile = await appUser({ email: 'u@example.com' });
    const badEmail = await member({ email: 'not-an-address' });
    const cases: [string, RegExp][] = [
      [await notify('ghost', noEmail, 2), /project ghost has no recipient table/],
      [await notify('crm', '999999999', 2), /no member with this user_id/],
      [await notify('crm', deleted, 2), /no member with this user_id/],
      [await notify('crm', noEmail, 2), /member has no email/],
      [await notify('app', noMobile, 3), /user has no mobile/],
      [await notify('app', 'abc', 3), /user_id is not a user id/],
      [await notify('crm', badEmail, 2), /not sendable by e-mail: to\.0/],
      [await notify('crm', noEmail, 7), /unknown notify type 7/],
      [await notify('crm', noEmail, null), /unknown notify type null/],
    ];
    expect(await dispatch(500)).toEqual({ inApp: 0, email: 0, sms: 0, unresolved: cases.length });
    for (const [id, reason] of cases) {
      const r = await row(id);
      expect(r.status).toBe(2);
      expect(r.errorMsg).toMatch(reason);
    }
    expect(await hub.db.getRepository(HubMessageDelivery).count()).toBe(0);
    expect(await dispatch(500)).toEqual({ inApp: 0, email: 0, sms: 0, unresolved: 0 });
  });

  it('run twice at once, then again: every message sent once', async () => {
    const ids: string[] = [];
    const phones: string[] = [];
    for (let i = 0; i < 6; i += 1) {
      const phone = `139000001${String(i).padStart(2, '0')}`;
      phones.push(phone);
      const m = await member({ email: `m${i}@example.com`, mobile: phone });
      ids.push(await notify('crm', m, 2, `邮件 ${i}`), await notify('crm', m, 3, `短信 ${i}`), await notify('crm', m, 1));
    }
    const [a, b] = await Promise.all([dispatch(4, 'nd-a'), dispatch(4, 'nd-b')]);
    expect(a.email + b.email).toBe(6);
    expect(a.sms + b.sms).toBe(6);
    expect(a.inApp + b.inApp).toBe(6);
    for (const id of ids) await settled(id, 1);

    expect(await dispatch(4, 'nd-c')).toEqual({ inApp: 0, email: 0, sms: 0, unresolved: 0 });
    for (const id of ids.filter((_, i) => i % 3 === 0)) expect(mailsFor(id)).toHaveLength(1);
    for (const phone of phones) expect(smsTo(phone)).toHaveLength(1);
    expect(await hub.db.getRepository(HubMessageDelivery).count()).toBe(12);
    expect(await hub.db.getRepository(EmailRecord).count()).toBe(6);
    expect(await hub.db.getRepository(Sms).count()).toBe(6);
  });
});
