import { z } from 'zod';
import type { DeliveryChannel } from '../../entities/hub/hub-message-delivery.entity';
import type { WechatAppKind } from '../../integrations/wechat-mp/wechat-mp.accounts';
import type { SentMessage, WechatMpClient } from '../../integrations/wechat-mp/wechat-mp.client';
import type { JobContext } from '../context';
import type { JobResult } from '../define-job';
import { deliverOnce, jobDeliveryKey, type DeliveryResult } from './delivery';

/** Payload fields both WeChat message jobs share. */
export const wechatAppid = z.string().regex(/^wx[0-9a-zA-Z]{16}$/, 'expected an appid such as wx0123456789abcdef');
export const wechatOpenid = z.string().regex(/^[A-Za-z0-9_-]{10,64}$/, 'expected an openid');
export const wechatTemplateId = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'expected a template id');
/** `thing1`, `time2`, `character_string3` … → plain values; the client trims them to WeChat's limits. */
export const wechatTemplateData = z
  .record(z.string().regex(/^[a-z_]+\d*$/, 'expected a template key such as thing1'), z.string().max(200))
  .refine((data) => Object.keys(data).length > 0, { message: 'at least one template field' });

interface WechatMessage {
  appid?: string;
  openid: string;
  templateId: string;
  deliveryKey?: string;
}

/** Records the delivery of one WeChat message, then sends it once through the app's client. */
export async function deliverWechat(
  ctx: JobContext,
  p: WechatMessage,
  route: { channel: Extract<DeliveryChannel, 'wechat-template' | 'wechat-subscribe'>; app: WechatAppKind },
  call: (client: WechatMpClient, key: string) => Promise<SentMessage>,
): Promise<JobResult<DeliveryResult>> {
  const key = p.deliveryKey ?? jobDeliveryKey(ctx);
  const request = { key, channel: route.channel, recipient: p.openid, jobName: ctx.job.name, payload: { ...p, deliveryKey: key } };
  return deliverOnce(ctx, request, {
    async send() {
      const client = await ctx.integrations.wechatMp.client(route.app, p.appid);
      const sent = await call(client, key);
      ctx.log.info({ deliveryKey: key, appid: client.appid, templateId: p.templateId, msgid: sent.msgid }, `${route.channel} message sent`);
      return { status: 'SENT', provider: 'wechat', providerMessageId: sent.msgid };
    },
  });
}
