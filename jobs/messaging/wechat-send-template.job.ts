import { z } from 'zod';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { defineJob } from '../define-job';
import { deliveryJobId, deliveryKeyField } from './delivery';
import { deliverWechat, wechatAppid, wechatOpenid, wechatTemplateData, wechatTemplateId } from './wechat-delivery';

/**
 * One Official Account template message. WeChat has no idempotency key for it beyond
 * `client_msg_id`, so the delivery row is recorded before the call and claimed by one job only; the
 * same `client_msg_id` (derived from the delivery key) on every attempt lets WeChat drop a replay.
 * 43101 (the user turned the template off), 43004 (not a follower), 40037 (bad template): FAILED,
 * no retry. 45009 (daily quota): the queue pauses and no attempt is used. -1 (busy): retried.
 */
export const wechatSendTemplate = defineJob({
  name: 'wechat-send-template',
  queue: 'wechat-messages',
  description: 'Send one WeChat Official Account template message, once per delivery key',
  payload: z.strictObject({
    /** The Official Account; the configured default when absent, else an enabled wx_mp_account row. */
    appid: wechatAppid.optional(),
    openid: wechatOpenid,
    templateId: wechatTemplateId,
    data: wechatTemplateData,
    url: z.url().max(1024).optional(),
    miniprogram: z.strictObject({ appid: wechatAppid, pagepath: z.string().min(1).max(256).optional() }).optional(),
    deliveryKey: deliveryKeyField.optional(),
  }),
  entities: [HubMessageDelivery],
  options: { attempts: 5, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 } },
  handle: (p, ctx) =>
    deliverWechat(ctx, p, { channel: 'wechat-template', app: 'official-account' }, (client, key) =>
      // 44 characters, the same for every attempt and every job of this key (WeChat allows 64).
      client.sendTemplate(p.openid, p.templateId, p.data, { url: p.url, miniprogram: p.miniprogram, clientMsgId: deliveryJobId(key) }),
    ),
});
