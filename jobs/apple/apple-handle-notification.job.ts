import { z } from 'zod';
import { AppleOrder } from '../../entities/app/apple-order.entity';
import { AppleProduct } from '../../entities/app/apple-product.entity';
import { AppUser } from '../../entities/app/user.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { HubAppleOrphan } from '../../entities/hub/hub-apple-orphan.entity';
import { HubAppleSubscription } from '../../entities/hub/hub-apple-subscription.entity';
import { HubAppleTransaction } from '../../entities/hub/hub-apple-transaction.entity';
import { HubAppleVip } from '../../entities/hub/hub-apple-vip.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import type { JobContext } from '../context';
import { PermanentError } from '../../lib/errors';
import { defineJob, done, skipped } from '../define-job';
import { applyAppleTransactionState, type AppleApplyOutcome } from './apply-apple-transaction';

/**
 * Applies one App Store notification stored in `pay_notify_log`. The row is never trusted: its raw
 * body is verified again (chain, bundle, app, environment) before anything is read from it. The
 * apply step orders states by signedDate, so a notification run twice, late or out of order
 * changes nothing more; the row turns handled after it.
 */

/** The job of an Apple notification: one per pay_notify_log row, whichever delivery or sweep enqueued it. */
export const appleNotifyJobId = (payNotifyLogId: string): string => `apple-notify-${payNotifyLogId}`;

/** Types whose transaction the hub applies; any other type with a transaction is a type Apple added since. */
const APPLIED_TYPES = new Set([
  'SUBSCRIBED',
  'DID_RENEW',
  'DID_CHANGE_RENEWAL_PREF',
  'DID_CHANGE_RENEWAL_STATUS',
  'OFFER_REDEEMED',
  'DID_FAIL_TO_RENEW',
  'GRACE_PERIOD_EXPIRED',
  'EXPIRED',
  'REFUND',
  'REFUND_DECLINED',
  'REFUND_REVERSED',
  'REVOKE',
  'RENEWAL_EXTENDED',
  'PRICE_INCREASE',
  'ONE_TIME_CHARGE',
  'CONSUMPTION_REQUEST',
  'METADATA_UPDATE',
  'MIGRATION',
  'PRICE_CHANGE',
]);

export type AppleNotificationOutcome = 'applied' | 'unchanged' | 'stale' | 'orphaned' | 'no-transaction' | 'unknown-type' | 'already-handled';

const NOTES: Partial<Record<AppleNotificationOutcome, string>> = {
  orphaned: 'no user known yet: parked in hub_apple_orphan',
  stale: 'older than the state already applied: nothing changed',
  'no-transaction': 'no transaction to apply',
  'unknown-type': 'notification type the hub does not know: stored, not applied',
};

const storedBody = z.object({ signedPayload: z.string().min(1) });

export const appleHandleNotification = defineJob({
  name: 'apple-handle-notification',
  queue: 'payments',
  description: 'Apply a verified App Store Server Notification V2 (pay_notify_log) to apple_order and the user VIP fields',
  payload: z.strictObject({ payNotifyLogId: z.string().regex(/^\d+$/) }),
  entities: [PayNotifyLog, AppleOrder, AppleProduct, AppUser, HubAppleOrphan, HubAppleSubscription, HubAppleTransaction, HubAppleVip, DmsBusinessLog],
  options: { attempts: 8, backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 } },
  async handle({ payNotifyLogId }, ctx) {
    const row = await ctx.db.getRepository(PayNotifyLog).findOne({ where: { id: payNotifyLogId } });
    if (!row) return skipped(`no pay_notify_log row ${payNotifyLogId}`);
    if (row.channel !== 'APPLE') return skipped('not an App Store notification');
    if (row.handled === 1) return skipped('already handled');
    const result = (outcome: AppleNotificationOutcome, apply?: AppleApplyOutcome) => ({ payNotifyLogId, eventType: row.eventType, outcome, ...(apply ? { apply } : {}) });

    let body: z.infer<typeof storedBody>;
    try {
      body = storedBody.parse(JSON.parse(row.rawBody));
    } catch {
      throw new PermanentError('APPLE_NOTIFICATION', `pay_notify_log ${payNotifyLogId}: raw_body is not {"signedPayload"}`);
    }
    const verified = await ctx.integrations.apple.verifier.verifyNotification(body.signedPayload);
    const p = verified.payload;
    const type = p.notificationType ?? null;
    if (!verified.transaction) return done(result(await markHandled(ctx, payNotifyLogId, 'no-transaction')));
    if (type === null || !APPLIED_TYPES.has(type)) {
      ctx.log.warn({ payNotifyLogId, notificationType: type, subtype: p.subtype, notificationUUID: p.notificationUUID }, 'app store notification of an unknown type: stored, not applied');
      return done(result(await markHandled(ctx, payNotifyLogId, 'unknown-type')));
    }
    const apply = await applyAppleTransactionState(
      ctx.db,
      ctx.integrations.apple,
      {
        environment: verified.environment,
        transaction: verified.transaction,
        renewal: verified.renewal,
        status: p.data?.status ?? null,
        notificationType: type,
        subtype: p.subtype ?? null,
        signedDate: p.signedDate ?? verified.transaction.signedDate ?? 0,
      },
      { now: ctx.now(), log: ctx.log },
    );
    const outcome: AppleNotificationOutcome = apply.orphaned ? 'orphaned' : apply.stale ? 'stale' : apply.changed ? 'applied' : 'unchanged';
    ctx.log.info({ payNotifyLogId, eventType: row.eventType, transactionId: verified.transaction.transactionId, uid: apply.uid, outcome }, 'app store notification handled');
    return done(result(await markHandled(ctx, payNotifyLogId, outcome), apply));
  },
});

async function markHandled(ctx: JobContext, id: string, outcome: AppleNotificationOutcome): Promise<AppleNotificationOutcome> {
  const res = await ctx.db.getRepository(PayNotifyLog).update({ id, handled: 0 }, { handled: 1, error: NOTES[outcome] ?? null, updatedTime: ctx.now() });
  return (res.affected ?? 0) === 1 ? outcome : 'already-handled';
}
