import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DataSource } from 'typeorm';
import { fitsColumn } from '../../entities/column-fit';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import type { Integrations } from '../../integrations';
import type { SignedHeaders, VerifiedNotification, WechatPayClient } from '../../integrations/wechat-pay/wechat-pay.client';
import { NotificationRejectedError } from '../../integrations/wechat-pay/wechat-pay.errors';
import { UnknownMerchantError } from '../../integrations/wechat-pay/wechat-pay.merchants';
import { notifyJobId, wechatPayHandleNotification } from '../../jobs/wechat-pay/wechat-pay-handle-notification.job';
import type { Enqueue } from '../../jobs/context';
import { isDuplicateKeyError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { withRedisTimeout } from '../http-errors';

/**
 * WeChat Pay callbacks. Verified on the raw bytes before anything else; stored once per
 * notification id; handed to a job; answered at once (WeChat waits 5 s, then retries). Any
 * answer but 200/204 makes WeChat deliver the same notification again later.
 */

export interface WechatPayWebhookDeps {
  db: DataSource;
  integrations: Integrations;
  enqueue: Enqueue;
  log: Logger;
  now: () => Date;
}

/** mchids are digits; anything else is no merchant of ours, answered without a database read. */
const MCHID = /^[0-9A-Za-z_-]{1,32}$/;
const SIGNED = ['wechatpay-timestamp', 'wechatpay-nonce', 'wechatpay-signature', 'wechatpay-serial'] as const;

/** WeChat's own answer format for a refusal. */
function fail(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ code: 'FAIL', message });
}

function signedHeaders(request: FastifyRequest): SignedHeaders {
  const picked: SignedHeaders = {};
  for (const name of SIGNED) {
    const value = request.headers[name];
    const text = Array.isArray(value) ? value[0] : value;
    if (typeof text === 'string') picked[name] = text;
  }
  return picked;
}

/** What the route stores: the ids that find the row again, from the decrypted resource. */
function identifiers(n: VerifiedNotification): Pick<PayNotifyLog, 'outTradeNo' | 'outRefundNo' | 'transactionId'> {
  if (n.kind === 'refund') return { outTradeNo: n.resource.out_trade_no, outRefundNo: n.resource.out_refund_no, transactionId: n.resource.transaction_id ?? null };
  return { outTradeNo: n.resource.out_trade_no, outRefundNo: null, transactionId: n.resource.transaction_id ?? null };
}

/**
 * The columns of `pay_notify_log` a notification's ids would not fit. Ids are refused, never cut: a
 * cut id names another order or deduplicates against another notification. WeChat's own ids are far
 * shorter, so only a notification out of protocol meets this; the raw body always fits (the body
 * limit is below a MEDIUMTEXT).
 */
function oversizedIds(mchid: string, n: VerifiedNotification): string[] {
  const values: Partial<Record<keyof PayNotifyLog, string | null>> = { merchant: mchid, notifyId: n.id, eventType: n.event_type, ...identifiers(n) };
  return Object.entries(values).filter(([property, value]) => typeof value === 'string' && !fitsColumn(PayNotifyLog, property, value)).map(([property]) => property);
}

/** The row's id, new or existing, and whether its notification was already applied. */
async function store(deps: WechatPayWebhookDeps, mchid: string, n: VerifiedNotification, rawBody: Buffer): Promise<{ id: string; handled: boolean; duplicate: boolean }> {
  const repo = deps.db.getRepository(PayNotifyLog);
  const at = deps.now();
  try {
    const inserted = await repo.insert({
      channel: 'WECHAT',
      merchant: mchid,
      notifyId: n.id,
      eventType: n.event_type,
      ...identifiers(n),
      rawBody: rawBody.toString('utf8'),
      verified: 1,
      handled: 0,
      error: null,
      createdTime: at,
      updatedTime: at,
    });
    const id = (inserted.identifiers[0] as { id?: unknown } | undefined)?.id;
    if (id === undefined || id === null) throw new Error('pay_notify_log insert returned no id');
    return { id: String(id), handled: false, duplicate: false };
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    const existing = await repo.findOne({ where: { notifyId: n.id }, select: { id: true, handled: true } });
    if (!existing) throw err;
    return { id: existing.id, handled: existing.handled === 1, duplicate: true };
  }
}

async function handle(deps: WechatPayWebhookDeps, request: FastifyRequest<{ Params: { mchid: string } }>, reply: FastifyReply): Promise<FastifyReply> {
  const { mchid } = request.params;
  const log = deps.log.child({ webhook: 'wechat-pay', mchid });
  if (!MCHID.test(mchid)) return fail(reply, 404, 'unknown merchant');
  let client: WechatPayClient;
  try {
    client = await deps.integrations.wechatPay.client(mchid);
  } catch (err) {
    if (err instanceof UnknownMerchantError) {
      log.warn('wechat pay callback for an unknown merchant refused');
      return fail(reply, 404, 'unknown merchant');
    }
    log.error({ err }, 'wechat pay merchant could not be loaded');
    return fail(reply, 500, 'merchant unavailable');
  }

  const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  let notification: VerifiedNotification;
  try {
    notification = client.verifyNotification(signedHeaders(request), rawBody);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    // The client names signature, serial and timestamp failures "callback signature: …"; the rest is the body's fault.
    const signature = err instanceof NotificationRejectedError && /signature/i.test(reason);
    const status = signature ? 401 : 400;
    log.warn({ status, reason, serial: signedHeaders(request)['wechatpay-serial'], bytes: rawBody.length }, 'wechat pay callback refused');
    return fail(reply, status, signature ? 'signature verification failed' : 'notification rejected');
  }

  const oversized = oversizedIds(mchid, notification);
  if (oversized.length > 0) {
    log.warn({ fields: oversized, eventType: notification.event_type.slice(0, 64) }, 'wechat pay callback refused: ids longer than pay_notify_log holds');
    return fail(reply, 400, 'notification rejected');
  }

  let row: { id: string; handled: boolean; duplicate: boolean };
  try {
    row = await store(deps, mchid, notification, rawBody);
  } catch (err) {
    log.error({ err, notifyId: notification.id }, 'wechat pay callback could not be stored');
    return fail(reply, 500, 'could not store the notification');
  }
  if (row.handled) {
    log.debug({ notifyId: notification.id, notifyLogId: row.id }, 'wechat pay callback already handled');
    return reply.code(204).send();
  }
  try {
    await withRedisTimeout(deps.enqueue(wechatPayHandleNotification, { notifyLogId: row.id }, { jobId: notifyJobId(row.id) }));
  } catch (err) {
    // The row stays verified and unhandled: WeChat's retry or the sweeper enqueues it again.
    log.warn({ err, notifyId: notification.id, notifyLogId: row.id }, 'wechat pay callback stored but not enqueued');
    return fail(reply, 503, 'temporarily unavailable');
  }
  log.debug({ notifyId: notification.id, notifyLogId: row.id, duplicate: row.duplicate, eventType: notification.event_type }, 'wechat pay callback accepted');
  return reply.code(204).send();
}

/** `POST /webhooks/wechat-pay/:mchid`, in a scope of its own whose parser keeps every body as raw bytes. */
export function registerWechatPayWebhook(app: FastifyInstance, deps: WechatPayWebhookDeps): void {
  void app.register(async (scope) => {
    // Signatures cover the exact bytes: never parse, re-encode or trim them before verification.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    scope.post<{ Params: { mchid: string } }>('/webhooks/wechat-pay/:mchid', (request, reply) => handle(deps, request, reply));
  });
}
