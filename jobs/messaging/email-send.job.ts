import { z } from 'zod';
import { EmailRecord } from '../../entities/customer-service/email-record.entity';
import { MessageRecordStatus } from '../../entities/customer-service/sms.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import type { RejectedRecipient } from '../../integrations/mail/mail.client';
import { insertIfAbsent } from '../../entities/raw-sql';
import { defineJob } from '../define-job';
import { deliverOnce, deliveryKeyField, deliveryJobId, jobDeliveryKey, recordRow, type DeliveryOutcome } from './delivery';
import { hashedId } from '../../lib/hashed-id';

const MAX_BODY = 1_048_576;
/** `email_records` column sizes (the customer-service DDL): a long list or body is kept cut, the message goes out whole. */
const TO_CHARS = 200;
const CC_CHARS = 500;
const CONTENT_BYTES = 65_535;
const RECIPIENT_CHARS = 700;

/** The `email_records.email_id` of a send whose caller gave none: the same for every attempt and every job of the key. */
export function emailIdOf(deliveryKey: string): string {
  return hashedId('mail-', deliveryKey, 40);
}

/** The Message-ID every attempt of a delivery goes out with, so receivers can drop a resend. */
export function emailMessageId(deliveryKey: string): string {
  return `<${deliveryJobId(deliveryKey)}@jobhub>`;
}

function clipChars(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

function clipBytes(text: string, max: number): string {
  if (Buffer.byteLength(text, 'utf8') <= max) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (bytes + size > max - 3) break;
    out += ch;
    bytes += size;
  }
  return `${out}…`;
}

function describeRejected(rejected: readonly RejectedRecipient[]): string {
  return `refused by the server: ${rejected.map((r) => `${r.address} (${r.code ?? '?'} ${r.response})`).join('; ')}`.slice(0, 1000);
}

/** The `email_records` row after the delivery settled; UNKNOWN stays 0 with the reason for ops. */
function recordUpdate(outcome: DeliveryOutcome, now: Date): Partial<EmailRecord> {
  if (outcome.status === 'SENT') return { status: MessageRecordStatus.SENT, sendTime: now, errorMsg: outcome.detail ?? null };
  if (outcome.status === 'FAILED') return { status: MessageRecordStatus.FAILED, errorMsg: `${outcome.code}: ${outcome.error}` };
  return { errorMsg: `outcome unknown: ${outcome.error}` };
}

/**
 * One e-mail over SMTP, recorded in `email_records`. The record and the delivery row are written
 * together before the call; one job claims the send. SMTP 4xx is retried, 5xx fails at once, a
 * connection lost after the whole message went out is UNKNOWN (never resent). Some recipients
 * refused while others took it: SENT, with the refused ones named in `error_msg`.
 */
export const emailSend = defineJob({
  name: 'email-send',
  queue: 'email',
  description: 'Send one e-mail via SMTP, once per delivery key, recorded in email_records',
  payload: z
    .strictObject({
      to: z.array(z.email()).min(1).max(50),
      cc: z.array(z.email()).max(50).default([]),
      subject: z.string().min(1).max(200),
      text: z.string().max(MAX_BODY).optional(),
      html: z.string().max(MAX_BODY).optional(),
      deliveryKey: deliveryKeyField.optional(),
      /** The caller's `email_records.email_id`; derived from the delivery key when absent. */
      emailId: z.string().min(1).max(50).optional(),
    })
    .refine((p) => p.text !== undefined || p.html !== undefined, { message: 'text or html is required', path: ['text'] }),
  entities: [EmailRecord, HubMessageDelivery],
  options: { attempts: 6, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 } },
  async handle(p, ctx) {
    const key = p.deliveryKey ?? jobDeliveryKey(ctx);
    const emailId = p.emailId ?? emailIdOf(key);
    const messageId = emailMessageId(key);
    const now = ctx.now();
    await insertIfAbsent(ctx.db.manager, EmailRecord, {
      emailId,
      to: clipChars(p.to.join(','), TO_CHARS),
      cc: p.cc.length > 0 ? clipChars(p.cc.join(','), CC_CHARS) : null,
      subject: p.subject,
      content: clipBytes(p.text ?? p.html ?? '', CONTENT_BYTES),
      status: MessageRecordStatus.PENDING,
      createdAt: now,
    });
    const { mail } = ctx.integrations;
    const request = { key, channel: 'email' as const, recipient: clipChars(p.to.join(','), RECIPIENT_CHARS), jobName: ctx.job.name, payload: { ...p, deliveryKey: key, emailId }, recordId: emailId };
    return deliverOnce(ctx, request, {
      async send() {
        const receipt = await mail.client.send({ from: mail.from, to: p.to, cc: p.cc, subject: p.subject, text: p.text, html: p.html, messageId });
        if (receipt.rejected.length > 0) ctx.log.warn({ deliveryKey: key, to: receipt.rejected.map((r) => r.address) }, 'mail sent, some recipients refused');
        return { status: 'SENT', provider: 'smtp', providerMessageId: receipt.messageId, ...(receipt.rejected.length > 0 ? { detail: describeRejected(receipt.rejected) } : {}) };
      },
      record: recordRow({ entity: EmailRecord, idProperty: 'emailId', values: recordUpdate }),
    });
  },
});
