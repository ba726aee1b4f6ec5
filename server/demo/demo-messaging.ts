import type { DataSource } from 'typeorm';
import { Notify, NotifyStatus } from '../../entities/customer-service/notify.entity';
import { HubSmsTemplate } from '../../entities/hub/hub-sms-template.entity';
import { Member } from '../../entities/marketing/member.entity';
import type { Integrations } from '../../integrations';
import { registerSmsTemplate } from '../../integrations/sms';
import { emailSend } from '../../jobs/messaging/email-send.job';
import { notifyDispatch } from '../../jobs/messaging/notify-dispatch.job';
import { smsSend } from '../../jobs/messaging/sms-send.job';
import { wechatSendSubscribe } from '../../jobs/messaging/wechat-send-subscribe.job';
import { wechatSendTemplate } from '../../jobs/messaging/wechat-send-template.job';
import type { Config } from '../../lib/config';
import type { Enqueue } from '../../jobs/context';
import type { Logger } from '../../lib/logger';
import { beijingSlot } from '../../lib/time';

export interface MessagingDemoDeps {
  db: DataSource;
  config: Pick<Config, 'messaging'>;
  integrations: Integrations;
  enqueue: Enqueue;
  log: Logger;
}

const TEMPLATES: readonly DemoSmsTemplate[] = [
  {
    templateKey: 'verify-code', content: '您的验证码为${code}，${minutes}分钟内有效，请勿泄露。',
    aliyunTemplateCode: 'SMS_100000001', aliyunSignName: '营销中台', aliyunParams: { code: 'code', time: 'minutes' },
    tencentTemplateId: '1000001', tencentSignName: '营销中台', tencentParams: ['code', 'minutes'], enabled: 1,
  },
  {
    templateKey: 'notify', content: '【${title}】${content}',
    aliyunTemplateCode: 'SMS_100000002', aliyunSignName: '营销中台', aliyunParams: { title: 'title', content: 'content' },
    tencentTemplateId: '1000002', tencentSignName: '营销中台', tencentParams: ['title', 'content'], enabled: 1,
  },
];

export type DemoSmsTemplate = Omit<HubSmsTemplate, 'id' | 'createdTime' | 'updatedTime'>;

/** Adds the templates (kept when present) and approves every `hub_sms_template` row at both SMS emulators. */
export async function approveDemoTemplates(db: DataSource, integrations: Integrations, templates: readonly DemoSmsTemplate[], now: Date): Promise<void> {
  // A present template is kept as it is (the update is a no-op); not INSERT IGNORE, which would hide a value cut to fit.
  await db.getRepository(HubSmsTemplate).createQueryBuilder().insert()
    .values(templates.map((t) => ({ ...t, createdTime: now, updatedTime: now }))).orUpdate(['template_key'], ['template_key']).execute();
  const { aliyunSms, tencentSms } = integrations.emulators;
  for (const row of await db.getRepository(HubSmsTemplate).find()) registerSmsTemplate({ aliyun: aliyunSms, tencent: tencentSms }, row);
}

const ORDER_PAID_TEMPLATE = 'demo-order-paid';
const CLASS_REMINDER_TEMPLATE = 'demo-class-reminder';

/**
 * `npm start` in development: every message path once, so the dashboard and `hub_message_delivery`
 * show them within a minute. SMS templates approved at both emulators; an Aliyun outage on the first
 * SMS, so its delivery row shows Tencent taking over; notifications of each type for a demo member.
 */
export async function seedMessagingDemo(deps: MessagingDemoDeps): Promise<void> {
  const { db, integrations, enqueue, log } = deps;
  const now = new Date();
  const run = `demo${beijingSlot(now, true)}`;
  const emulators = integrations.emulators;
  await approveDemoTemplates(db, integrations, TEMPLATES, now);

  const officialAccount = deps.config.messaging.wechatMp.officialAccount;
  const miniapp = deps.config.messaging.wechatMp.miniapp;
  // WeChat openids are 28 characters.
  const openid = `oDemo${beijingSlot(now, true)}`.padEnd(28, 'x');
  if (emulators.wechatMp && officialAccount && miniapp) {
    emulators.wechatMp.addTemplate(officialAccount.appid, ORDER_PAID_TEMPLATE, { keys: ['thing1', 'amount2', 'time3'] });
    emulators.wechatMp.addTemplate(miniapp.appid, CLASS_REMINDER_TEMPLATE, { keys: ['thing1', 'time2'] });
    emulators.wechatMp.grantSubscription(miniapp.appid, openid, CLASS_REMINDER_TEMPLATE);
  }

  // The first SMS finds Aliyun down (503): Tencent sends it, and the delivery row says so.
  emulators.aliyunSms?.inject({ kind: 'http', status: 503 });
  await enqueue(smsSend, { phone: '13800138000', templateKey: 'verify-code', params: { code: '246810', minutes: 5 }, deliveryKey: `${run}-verify` });
  await enqueue(wechatSendTemplate, { openid, templateId: ORDER_PAID_TEMPLATE, data: { thing1: '周末亲子手工课', amount2: '99.00元', time3: '2026-12-05 10:00' }, deliveryKey: `${run}-paid` });
  await enqueue(wechatSendSubscribe, { openid, templateId: CLASS_REMINDER_TEMPLATE, data: { thing1: '周末亲子手工课', time2: '2026-12-05 10:00' }, deliveryKey: `${run}-reminder` });
  await enqueue(emailSend, { to: ['teacher@example.com'], cc: ['office@example.com'], subject: '本周课程安排', text: '周六上午十点，亲子手工课。', deliveryKey: `${run}-mail` });

  const member = await db.getRepository(Member).save({ name: '演示会员', nickName: 'demo', mobile: '13900139000', email: 'member@example.com', deleted: 0, createdTime: now, updatedTime: now });
  const notification = (suffix: string, type: number, title: string) => ({
    notifyId: `${run}-${suffix}`, projectId: 'marketing', userId: member.id, type, title, content: '您报名的活动明天上午十点开始。', status: NotifyStatus.PENDING, createdAt: now, updatedAt: now,
  });
  await db.getRepository(Notify).insert([notification('inapp', 1, '活动提醒'), notification('mail', 2, '活动提醒'), notification('sms', 3, '活动提醒')]);
  await enqueue(notifyDispatch, {});
  log.info({ run }, 'demo messages enqueued: SMS (Aliyun down, Tencent sends), WeChat template and subscribe, e-mail, three notifications');
}
