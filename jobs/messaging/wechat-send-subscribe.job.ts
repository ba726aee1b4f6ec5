import { z } from 'zod';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { defineJob } from '../define-job';
import { deliveryKeyField } from './delivery';
import { deliverWechat, wechatAppid, wechatOpenid, wechatTemplateData, wechatTemplateId } from './wechat-delivery';

/**
 * One mini-program subscribe message. Each uses up a one-time subscription the user granted, and
 * WeChat takes no idempotency key for it at all: the delivery row, claimed by one job only, is what
 * keeps a retry or a second job from spending a second grant. 43101 (no subscription left): FAILED,
 * no retry; 45009: the queue pauses without using an attempt; -1: retried.
 */
export const wechatSendSubscribe = defineJob({
  name: 'wechat-send-subscribe',
  queue: 'wechat-messages',
  description: 'Send one WeChat mini-program subscribe message, once per delivery key',
  payload: z.strictObject({
    /** The mini-program; the configured default when absent, else an enabled wx_miniapp_account row. */
    appid: wechatAppid.optional(),
    openid: wechatOpenid,
    templateId: wechatTemplateId,
    data: wechatTemplateData,
    /** The page the message opens, `pages/x?id=1` (no leading slash). */
    page: z.string().min(1).max(256).optional(),
    miniprogramState: z.enum(['developer', 'trial', 'formal']).optional(),
    deliveryKey: deliveryKeyField.optional(),
  }),
  entities: [HubMessageDelivery],
  options: { attempts: 5, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 } },
  handle: (p, ctx) =>
    deliverWechat(ctx, p, { channel: 'wechat-subscribe', app: 'miniapp' }, (client) => client.sendSubscribe(p.openid, p.templateId, p.data, p.page, p.miniprogramState)),
});
