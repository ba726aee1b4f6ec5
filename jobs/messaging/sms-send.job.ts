import { z } from 'zod';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import { HubSmsTemplate } from '../../entities/hub/hub-sms-template.entity';
import { MessageRecordStatus, Sms } from '../../entities/customer-service/sms.entity';
import { insertIfAbsent } from '../../entities/raw-sql';
import { RateLimitedError } from '../../lib/errors';
import { takeSecondPermit } from '../../lib/rate-permit';
import { defineJob, type JobResult } from '../define-job';
import { deliverOnce, deliveryKeyField, jobDeliveryKey, recordRow, type DeliveryOutcome, type DeliveryResult } from './delivery';
import { sendSmsThroughChain } from './sms-chain';
import { prepareSms } from './sms-template';
import { hashedId } from '../../lib/hashed-id';
import { hubRedisKeys } from '../../lib/redis-keys';

/** Mainland mobile numbers, bare or with +86/86; the job keeps the 11 digits. */
const MAINLAND_MOBILE = /^(?:\+?86)?(1[3-9]\d{9})$/;

export const smsSendPayload = z.strictObject({
  phone: z
    .string()
    .trim()
    .regex(MAINLAND_MOBILE, 'expected a mainland mobile number (11 digits starting 13–19, optionally +86)')
    .transform((v) => MAINLAND_MOBILE.exec(v)?.[1] ?? v),
  templateKey: z.string().regex(/^[A-Za-z0-9_.-]{1,50}$/, 'expected a hub_sms_template key of at most 50 characters (sms.template_id holds 50)'),
  params: z.record(z.string().regex(/^\w{1,32}$/, 'expected a parameter name (letters, digits, _)'), z.union([z.string().max(256), z.number()])).default({}),
  deliveryKey: deliveryKeyField.optional(),
  smsId: z.string().min(1).max(50).optional(),
});

/** The `sms.sms_id` of a message whose caller gave none: the same for every retry of one delivery key. */
export function smsIdFor(deliveryKey: string): string {
  return hashedId('hub-', deliveryKey, 40);
}

/** The `sms` row's columns for a settled delivery; UNKNOWN stays pending with the reason. */
function smsSettlement(outcome: DeliveryOutcome, now: Date): Partial<Sms> {
  if (outcome.status === 'SENT') return { status: MessageRecordStatus.SENT, sendTime: now, errorMsg: null };
  if (outcome.status === 'FAILED') {
    const message = outcome.error.includes(outcome.code) ? outcome.error : `${outcome.code}: ${outcome.error}`;
    return { status: MessageRecordStatus.FAILED, errorMsg: message };
  }
  return { errorMsg: `outcome unknown, not sent again: ${outcome.error}` };
}

/**
 * One SMS by template key. The `sms` row and the delivery row are written together before any
 * provider is called; the delivery key makes a retry, a duplicate job or a second worker send it
 * once. Providers are tried in order (Aliyun, then Tencent) on transient failure only.
 */
export const smsSend = defineJob({
  name: 'sms-send',
  queue: 'sms',
  description: 'Send one SMS by hub_sms_template key (Aliyun, Tencent on failover), recorded in sms',
  payload: smsSendPayload,
  entities: [Sms, HubSmsTemplate, HubMessageDelivery],
  options: { attempts: 8, backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 } },
  async handle(p, ctx): Promise<JobResult<DeliveryResult>> {
    // A bad template or parameter fails here, before any row exists.
    const prepared = await prepareSms(ctx.db, p.templateKey, p.params);
    const key = p.deliveryKey ?? jobDeliveryKey(ctx);
    const smsId = p.smsId ?? smsIdFor(key);
    const now = ctx.now();
    // The sms row first: a retry finds it (insertIfAbsent); the delivery row, written with the claim, comes next.
    await insertIfAbsent(ctx.db.manager, Sms, {
      smsId, phone: p.phone, templateId: p.templateKey, params: JSON.stringify(p.params), content: prepared.content, status: MessageRecordStatus.PENDING, createdAt: now,
    });
    const request = { key, channel: 'sms' as const, recipient: p.phone, jobName: 'sms-send', payload: { ...p, deliveryKey: key }, recordId: smsId };
    return deliverOnce(ctx, request, {
      // Over the account's rate this second: the row goes back to PENDING (no attempt counted) and the queue waits for the next second.
      beforeSend: async () => {
        const permit = await takeSecondPermit(ctx.redis, hubRedisKeys(ctx.config.redis).beside('sms', 'rate', 'sms'), ctx.config.messaging.sms.ratePerSecond, new Date());
        if (permit) throw new RateLimitedError(permit.waitMs, 'the SMS account sent its limit this second');
      },
      send: async (delivery) => {
        const sent = await sendSmsThroughChain(ctx, p.phone, prepared, delivery.id);
        ctx.log.info({ phone: p.phone, templateKey: p.templateKey, ...sent }, 'sms sent');
        return { status: 'SENT', ...sent };
      },
      // Only a pending row: a receipt that came first has already settled it.
      record: recordRow({ entity: Sms, idProperty: 'smsId', values: smsSettlement, onlyWhile: { property: 'status', value: MessageRecordStatus.PENDING } }),
    });
  },
});
