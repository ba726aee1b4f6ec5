import type { DataSource } from 'typeorm';
import { cutToColumn, fitsColumn } from '../../entities/column-fit';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import { insertIfAbsent } from '../../entities/raw-sql';
import type { VerifiedAppleNotification } from '../../integrations/apple/apple.client';
import { PermanentError } from '../../lib/errors';

/**
 * A verified App Store notification in `pay_notify_log`, once per notificationUUID (Apple resends
 * the same UUID until answered 2xx). A TEST notification is stored handled: there is nothing to apply.
 */

/** `type` or `type/subtype`, as `pay_notify_log.event_type` shows it. */
export function appleEventType(verified: VerifiedAppleNotification): string {
  const { notificationType, subtype } = verified.payload;
  return cutToColumn(PayNotifyLog, 'eventType', `${notificationType ?? 'UNKNOWN'}${subtype ? `/${subtype}` : ''}`);
}

/** Ids are refused, never cut: a cut id deduplicates against another notification or names another transaction. */
function refuseOversized(values: Partial<Record<keyof PayNotifyLog, string | null>>): void {
  const oversized = Object.entries(values).filter(([property, value]) => typeof value === 'string' && !fitsColumn(PayNotifyLog, property, value)).map(([property]) => property);
  if (oversized.length > 0) throw new PermanentError('APPLE_NOTIFICATION', `ids longer than pay_notify_log holds: ${oversized.join(', ')}`);
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
  const ids = { merchant: p.data?.bundleId ?? p.summary?.bundleId ?? p.appData?.bundleId ?? '', notifyId, transactionId: verified.transaction?.transactionId ?? null };
  refuseOversized(ids);
  const inserted = await insertIfAbsent(db.manager, PayNotifyLog, {
    ...ids,
    channel: 'APPLE',
    eventType: appleEventType(verified),
    outTradeNo: null,
    outRefundNo: null,
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
