import type { DataSource } from 'typeorm';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import { insertIgnore } from '../../entities/raw-sql';
import type { VerifiedAppleNotification } from '../../integrations/apple/apple.client';
import { PermanentError } from '../../lib/errors';

/**
 * A verified App Store notification in `pay_notify_log`, once per notificationUUID (Apple resends
 * the same UUID until answered 2xx). A TEST notification is stored handled: there is nothing to apply.
 */

/** `type` or `type/subtype`, as `pay_notify_log.event_type` shows it. */
export function appleEventType(verified: VerifiedAppleNotification): string {
  const { notificationType, subtype } = verified.payload;
  return `${notificationType ?? 'UNKNOWN'}${subtype ? `/${subtype}` : ''}`.slice(0, 64);
}

export async function storeAppleNotification(
  db: DataSource,
  verified: VerifiedAppleNotification,
  rawBody: string,
  now: Date,
): Promise<{ rowId: string; created: boolean; handled: boolean }> {
  const p = verified.payload;
  const notifyId = p.notificationUUID;
  if (!notifyId) throw new PermanentError('APPLE_NOTIFICATION', 'notification has no notificationUUID');
  const isTest = p.notificationType === 'TEST';
  const inserted = await insertIgnore(db.manager, PayNotifyLog, {
    channel: 'APPLE',
    merchant: p.data?.bundleId ?? p.summary?.bundleId ?? p.appData?.bundleId ?? '',
    notifyId,
    eventType: appleEventType(verified),
    outTradeNo: null,
    outRefundNo: null,
    transactionId: verified.transaction?.transactionId ?? null,
    rawBody,
    verified: 1,
    handled: isTest ? 1 : 0,
    error: isTest ? 'TEST notification: acknowledged' : null,
    createdTime: now,
    updatedTime: now,
  });
  if (inserted.affectedRows === 1 && inserted.insertId !== null) return { rowId: inserted.insertId, created: true, handled: isTest };
  const existing = await db.getRepository(PayNotifyLog).findOne({ where: { notifyId }, select: { id: true, handled: true, channel: true } });
  if (!existing) throw new Error(`pay_notify_log row for ${notifyId} neither inserted nor found`);
  if (existing.channel !== 'APPLE') throw new PermanentError('APPLE_NOTIFICATION', `notify_id ${notifyId} is taken by a ${existing.channel} notification`);
  return { rowId: existing.id, created: false, handled: existing.handled === 1 };
}
