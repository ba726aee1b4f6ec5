import { z } from 'zod';
import { HubMessageDelivery } from '../entities/hub/hub-message-delivery.entity';
import { defineJob } from './define-job';
import { DELIVERY_KEY, deliverOnce, deliveryJobId, jobDeliveryKey, recordDelivery } from './messaging/delivery';

/** Payload fields both WeChat message jobs share. */
export const wechatAppid = z.string().regex(/^wx[0-9a-zA-Z]{16}$/, 'expected an appid such as wx0123456789abcdef');
export const wechatOpenid = z.string().regex(/^[A-Za-z0-9_-]{10,64}$/, 'expected an openid');
export const wechatTemplateId = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'expected a template id');
/** `thing1`, `time2`, `character_string3` … → plain values; the client trims them to WeChat's limits. */
export const wechatTemplateData = z
  .record(z.string().regex(/^[a-z_]+\d*$/, 'expected a template key such as thing1'), z.string().max(200))
  .refine((data) => Object.keys(data).length > 0, { message: 'at least one template field' });

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
    deliveryKey: z.string().regex(DELIVERY_KEY, 'expected 1–191 of A-Z a-z 0-9 _ . @ | = + -').optional(),
  }),
  entities: [HubMessageDelivery],
  options: { attempts: 5, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 } },
  async handle(p, ctx) {
    const key = p.deliveryKey ?? jobDeliveryKey(ctx);
    await recordDelivery(ctx.db.manager, { key, channel: 'wechat-template', recipient: p.openid, jobName: ctx.job.name, payload: { ...p, deliveryKey: key }, jobId: ctx.job.id }, ctx.now());
    return deliverOnce(ctx, key, {
      async send() {
        const client = await ctx.integrations.wechatMp.client('official-account', p.appid);
        // 44 characters, the same for every attempt and every job of this key (WeChat allows 64).
        const sent = await client.sendTemplate(p.openid, p.templateId, p.data, { url: p.url, miniprogram: p.miniprogram, clientMsgId: deliveryJobId(key) });
        ctx.log.info({ deliveryKey: key, appid: client.appid, templateId: p.templateId, msgid: sent.msgid }, 'wechat template message sent');
        return { status: 'SENT', provider: 'wechat', providerMessageId: sent.msgid };
      },
    });
  },
});
