import type { DataSource } from 'typeorm';
import { HubSmsTemplate } from '../../entities/hub/hub-sms-template.entity';
import type { Config } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import type { OpenedIntegration } from '../opened-integration';
import { AliyunSmsClient } from './aliyun-sms.live';
import type { SmsClient } from './sms.client';
import { smsProviders, type SmsProviders } from './sms.providers';
import { TencentSmsClient } from './tencent-sms.live';
import type { AliyunSmsEmulator } from './emulator/aliyun-sms.emulator';
import type { TencentSmsEmulator } from './emulator/tencent-sms.emulator';

export type OpenedSms = OpenedIntegration<SmsProviders, { readonly aliyunSms?: AliyunSmsEmulator; readonly tencentSms?: TencentSmsEmulator }>;

/**
 * The SMS accounts in the order SMS_PROVIDERS gives. In emulator mode both vendors' emulators start
 * here, push their receipts to this hub's webhook, and approve the templates of hub_sms_template.
 */
export async function openSms(config: Pick<Config, 'messaging' | 'http'>, db: DataSource, log: Logger): Promise<OpenedSms> {
  const sms = config.messaging.sms;
  const smsLog = log.child({ integration: 'sms' });
  const clients: SmsClient[] = [];
  if (sms.mode === 'emulator') {
    // Loaded only here: a live process never carries the emulators' code.
    const [{ AliyunSmsEmulator }, { TencentSmsEmulator }] = await Promise.all([import('./emulator/aliyun-sms.emulator'), import('./emulator/tencent-sms.emulator')]);
    const receiptUrl = (provider: string): string | undefined =>
      sms.receiptToken ? `http://127.0.0.1:${config.http.port}/webhooks/sms/${provider}?token=${sms.receiptToken}` : undefined;
    const aliyun = await AliyunSmsEmulator.start({ receiptUrl: receiptUrl('aliyun') });
    const tencent = await TencentSmsEmulator.start({ receiptUrl: receiptUrl('tencent') });
    await registerTemplates(db, { aliyun, tencent }, smsLog);
    const made = {
      aliyun: new AliyunSmsClient({ endpoint: aliyun.baseUrl, accessKeyId: aliyun.accessKeyId, accessKeySecret: aliyun.accessKeySecret, timeoutMs: sms.timeoutMs }),
      tencent: new TencentSmsClient({ endpoint: tencent.baseUrl, secretId: tencent.secretId, secretKey: tencent.secretKey, sdkAppId: tencent.sdkAppId, region: 'ap-guangzhou', timeoutMs: sms.timeoutMs }),
    };
    for (const p of sms.providers) clients.push(made[p]);
    smsLog.info({ aliyun: aliyun.baseUrl, tencent: tencent.baseUrl }, 'sms emulators started');
    return {
      client: smsProviders(clients, sms.receiptToken),
      emulators: { aliyunSms: aliyun, tencentSms: tencent },
      close: async () => void (await Promise.all([aliyun.stop(), tencent.stop()])),
    };
  }
  for (const p of sms.providers) {
    if (p === 'aliyun' && sms.aliyun) clients.push(new AliyunSmsClient({ ...sms.aliyun, timeoutMs: sms.timeoutMs }));
    if (p === 'tencent' && sms.tencent) clients.push(new TencentSmsClient({ ...sms.tencent, timeoutMs: sms.timeoutMs }));
  }
  return { client: smsProviders(clients, sms.receiptToken), emulators: {}, close: () => Promise.resolve() };
}

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

/** For processes that send no SMS: no provider to try. */
export const NO_SMS: SmsProviders = smsProviders([], null);
