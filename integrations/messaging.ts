import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { HubSmsTemplate } from '../entities/hub/hub-sms-template.entity';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { SmtpEmulator } from './mail/mail.emulator';
import type { MailClient } from './mail/mail.client';
import { SmtpMailClient } from './mail/mail.live';
import type { AliyunSmsEmulator } from './sms/aliyun-sms.emulator';
import { AliyunSmsClient } from './sms/aliyun-sms.live';
import type { SmsClient } from './sms/sms.client';
import { smsProviders, type SmsProviders } from './sms/sms.providers';
import type { TencentSmsEmulator } from './sms/tencent-sms.emulator';
import { TencentSmsClient } from './sms/tencent-sms.live';
import { createWechatMpAccounts, type WechatMpAccounts } from './wechat-mp/wechat-mp.accounts';
import type { WechatMpEmulator } from './wechat-mp/wechat-mp.emulator';
import { LiveWechatMpClient } from './wechat-mp/wechat-mp.live';

export interface Mailer {
  /** The From of every message the hub sends (MAIL_FROM). */
  readonly from: string;
  readonly client: MailClient;
}

export interface MessagingEmulators {
  readonly aliyunSms?: AliyunSmsEmulator;
  readonly tencentSms?: TencentSmsEmulator;
  readonly wechatMp?: WechatMpEmulator;
  readonly smtp?: SmtpEmulator;
}

export interface Messaging {
  readonly sms: SmsProviders;
  readonly wechatMp: WechatMpAccounts;
  readonly mail: Mailer;
  readonly emulators: MessagingEmulators;
  close(): Promise<void>;
}

type MessagingConfigPart = Pick<Config, 'messaging' | 'http' | 'redis'>;

/** Emulators get the approved templates from hub_sms_template, as the vendors' consoles would have them. */
async function registerTemplates(db: DataSource, emulators: { aliyun: AliyunSmsEmulator; tencent: TencentSmsEmulator }, log: Logger): Promise<void> {
  const rows = await db.getRepository(HubSmsTemplate).find({ where: { enabled: 1 } }).catch((err: unknown) => {
    log.warn({ err }, 'hub_sms_template unreadable: the SMS emulators start without templates');
    return [];
  });
  for (const row of rows) registerSmsTemplate(emulators, row);
}

/** Approves one template (and its signs) at both SMS emulators. */
export function registerSmsTemplate(emulators: { aliyun?: AliyunSmsEmulator; tencent?: TencentSmsEmulator }, row: HubSmsTemplate): void {
  if (emulators.aliyun && row.aliyunTemplateCode && row.aliyunSignName) {
    // Aliyun's own variable names stand in the text it approved.
    const names = row.aliyunParams ?? {};
    const aliyunText = row.content.replace(/\$\{(\w+)\}/g, (all, hubName: string) => {
      const vendorName = Object.entries(names).find(([, hub]) => hub === hubName)?.[0];
      return vendorName ? `\${${vendorName}}` : all;
    });
    emulators.aliyun.addTemplate(row.aliyunTemplateCode, aliyunText);
    emulators.aliyun.addSign(row.aliyunSignName);
  }
  if (emulators.tencent && row.tencentTemplateId && row.tencentSignName) {
    const order = row.tencentParams ?? [];
    emulators.tencent.addTemplate(row.tencentTemplateId, row.content.replace(/\$\{(\w+)\}/g, (all, hubName: string) => (order.includes(hubName) ? `{${order.indexOf(hubName) + 1}}` : all)));
    emulators.tencent.addSign(row.tencentSignName);
  }
}

async function openSms(config: MessagingConfigPart, db: DataSource, log: Logger): Promise<{ sms: SmsProviders; emulators: MessagingEmulators; stop(): Promise<void> }> {
  const sms = config.messaging.sms;
  const clients: SmsClient[] = [];
  if (sms.mode === 'emulator') {
    const [{ AliyunSmsEmulator }, { TencentSmsEmulator }] = await Promise.all([import('./sms/aliyun-sms.emulator'), import('./sms/tencent-sms.emulator')]);
    const receiptUrl = (provider: string): string | undefined =>
      sms.receiptToken ? `http://127.0.0.1:${config.http.port}/webhooks/sms/${provider}?token=${sms.receiptToken}` : undefined;
    const aliyun = await AliyunSmsEmulator.start({ receiptUrl: receiptUrl('aliyun') });
    const tencent = await TencentSmsEmulator.start({ receiptUrl: receiptUrl('tencent') });
    await registerTemplates(db, { aliyun, tencent }, log);
    const made = {
      aliyun: new AliyunSmsClient({ endpoint: aliyun.baseUrl, accessKeyId: aliyun.accessKeyId, accessKeySecret: aliyun.accessKeySecret, timeoutMs: sms.timeoutMs }),
      tencent: new TencentSmsClient({ endpoint: tencent.baseUrl, secretId: tencent.secretId, secretKey: tencent.secretKey, sdkAppId: tencent.sdkAppId, region: 'ap-guangzhou', timeoutMs: sms.timeoutMs }),
    };
    for (const p of sms.providers) clients.push(made[p]);
    log.info({ aliyun: aliyun.baseUrl, tencent: tencent.baseUrl }, 'sms emulators started');
    return { sms: smsProviders(clients, sms.receiptToken), emulators: { aliyunSms: aliyun, tencentSms: tencent }, stop: async () => void (await Promise.all([aliyun.stop(), tencent.stop()])) };
  }
  for (const p of sms.providers) {
    if (p === 'aliyun' && sms.aliyun) clients.push(new AliyunSmsClient({ ...sms.aliyun, timeoutMs: sms.timeoutMs }));
    if (p === 'tencent' && sms.tencent) clients.push(new TencentSmsClient({ ...sms.tencent, timeoutMs: sms.timeoutMs }));
  }
  return { sms: smsProviders(clients, sms.receiptToken), emulators: {}, stop: () => Promise.resolve() };
}

async function openWechatMp(config: MessagingConfigPart, db: DataSource, redis: Redis, log: Logger): Promise<{ accounts: WechatMpAccounts; emulator?: WechatMpEmulator }> {
  const mp = config.messaging.wechatMp;
  const mpLog = log.child({ integration: 'wechat-mp' });
  let baseUrl = mp.baseUrl;
  let emulator: WechatMpEmulator | undefined;
  if (mp.mode === 'emulator') {
    const { WechatMpEmulator } = await import('./wechat-mp/wechat-mp.emulator');
    emulator = await WechatMpEmulator.start();
    for (const account of [mp.officialAccount, mp.miniapp]) if (account) emulator.addApp({ ...account });
    baseUrl = emulator.baseUrl;
    mpLog.info({ baseUrl }, 'wechat mp emulator started');
  }
  const accounts = createWechatMpAccounts({
    db,
    defaults: { 'official-account': mp.officialAccount, miniapp: mp.miniapp },
    makeClient: (account) => new LiveWechatMpClient({ baseUrl, ...account, redis, keyPrefix: config.redis.queuePrefix, timeoutMs: mp.timeoutMs, log: mpLog }),
    log: mpLog,
  });
  return { accounts, ...(emulator ? { emulator } : {}) };
}

async function openMail(config: MessagingConfigPart, log: Logger): Promise<{ mail: Mailer; emulator?: SmtpEmulator }> {
  const mailLog = log.child({ integration: 'mail' });
  let url = config.messaging.mail.smtpUrl;
  let emulator: SmtpEmulator | undefined;
  if (!url) {
    // Development without SMTP_URL (production refuses to start so): a local SMTP peer keeps the mail.
    const { SmtpEmulator } = await import('./mail/mail.emulator');
    emulator = await SmtpEmulator.start();
    url = emulator.url;
    mailLog.info({ url }, 'smtp emulator started (no SMTP_URL)');
  }
  return { mail: { from: config.messaging.mail.from, client: new SmtpMailClient({ url, log: mailLog }) }, ...(emulator ? { emulator } : {}) };
}

/** SMS providers, WeChat apps and the mailer; each live, or pointed at an emulator started here. */
export async function openMessaging(config: MessagingConfigPart, db: DataSource, redis: Redis, log: Logger): Promise<Messaging> {
  const sms = await openSms(config, db, log.child({ integration: 'sms' }));
  const wechatMp = await openWechatMp(config, db, redis, log);
  const mail = await openMail(config, log);
  return {
    sms: sms.sms,
    wechatMp: wechatMp.accounts,
    mail: mail.mail,
    emulators: { ...sms.emulators, ...(wechatMp.emulator ? { wechatMp: wechatMp.emulator } : {}), ...(mail.emulator ? { smtp: mail.emulator } : {}) },
    async close() {
      await mail.mail.client.close();
      await Promise.all([sms.stop(), wechatMp.emulator?.stop(), mail.emulator?.stop()]);
    },
  };
}
