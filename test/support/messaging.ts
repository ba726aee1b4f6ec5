import { HubSmsTemplate } from '../../entities/hub/hub-sms-template.entity';
import { registerSmsTemplate } from '../../integrations/sms';
import type { SmtpEmulator } from '../../integrations/mail/emulator/mail.emulator';
import type { AliyunSmsEmulator } from '../../integrations/sms/emulator/aliyun-sms.emulator';
import type { TencentSmsEmulator } from '../../integrations/sms/emulator/tencent-sms.emulator';
import type { WechatMpEmulator } from '../../integrations/wechat-mp/emulator/wechat-mp.emulator';
import type { TestHub } from './hub';

export interface MessagingEmulators {
  aliyun: AliyunSmsEmulator;
  tencent: TencentSmsEmulator;
  wechatMp: WechatMpEmulator;
  smtp: SmtpEmulator;
}

/** The emulators of a hub opened with `messaging: true`; throws when one is missing. */
export function messagingEmulators(hub: TestHub): MessagingEmulators {
  const { aliyunSms, tencentSms, wechatMp, smtp } = hub.integrations.emulators;
  if (!aliyunSms || !tencentSms || !wechatMp || !smtp) throw new Error('open the hub with messaging: true');
  return { aliyun: aliyunSms, tencent: tencentSms, wechatMp, smtp };
}

export type SmsTemplateRow = Omit<HubSmsTemplate, 'id' | 'createdTime' | 'updatedTime'>;

/** A hub_sms_template row, approved at both SMS emulators as the vendors' consoles would have it. */
export async function approveSmsTemplate(hub: TestHub, template: SmsTemplateRow): Promise<HubSmsTemplate> {
  const at = new Date();
  const row = await hub.db.getRepository(HubSmsTemplate).save({ ...template, createdTime: at, updatedTime: at });
  const { aliyun, tencent } = messagingEmulators(hub);
  registerSmsTemplate({ aliyun, tencent }, row);
  return row;
}
