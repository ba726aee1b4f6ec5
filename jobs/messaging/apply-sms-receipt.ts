import type { DataSource, EntityManager } from 'typeorm';
import { MessageRecordStatus, Sms } from '../../entities/customer-service/sms.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import type { SmsProvider, SmsReceipt } from '../../integrations/sms/sms.client';
import { isTransientDatabaseError } from '../../lib/errors';
import { smsReceipts } from '../../lib/metrics';
import { parseBeijing } from '../../lib/time';

/**
 * Delivery receipts (回执) applied to their deliveries and `sms` rows. A receipt proves the message
 * went out, so it also settles a delivery whose send answer was lost (UNKNOWN) or not yet saved
 * (SENDING). Every change is guarded so that the same receipt pushed again changes nothing more,
 * and nothing moves a FAILED or SENT delivery back.
 */

export interface ReceiptCounts {
  matched: number;
  unmatched: number;
}

const DELIVERED = 'DELIVERED';
const UNDELIVERED = 'UNDELIVERED';

/** The 11 digits of a mainland number in any spelling (`+8613…`, `8613…`, `13…`). */
const digitsOf = (phone: string): string => phone.replace(/\D/g, '').slice(-11);

function receiptTime(receipt: SmsReceipt, now: Date): Date {
  try {
    return parseBeijing(receipt.reportedAt);
  } catch {
    return now;
  }
}

/**
 * The delivery a receipt belongs to: by `outId` (our delivery id, echoed by the vendor) when it names
 * an SMS delivery of this provider (or of none yet) to the same number, else by the vendor's message id.
 */
async function findDelivery(manager: EntityManager, provider: SmsProvider, receipt: SmsReceipt): Promise<HubMessageDelivery | null> {
  const base = () => manager.getRepository(HubMessageDelivery).createQueryBuilder('d').setLock('pessimistic_write').where('d.channel = :channel', { channel: 'sms' });
  if (receipt.outId && /^\d{1,20}$/.test(receipt.outId)) {
    const byId = await base()
      .andWhere('d.id = :id', { id: receipt.outId })
      .andWhere('(d.provider = :provider OR d.provider IS NULL)', { provider })
      .getOne();
    if (byId && digitsOf(byId.recipient) === digitsOf(receipt.phone)) return byId;
  }
  return base()
    .andWhere('d.provider = :provider AND d.provider_message_id = :messageId', { provider, messageId: receipt.messageId })
    .orderBy('d.id', 'ASC')
    .getOne();
}

/** Applies one receipt inside the batch's transaction; false when it matches no delivery. */
async function applyOne(manager: EntityManager, now: Date, provider: SmsProvider, receipt: SmsReceipt): Promise<boolean> {
  const delivery = await findDelivery(manager, provider, receipt);
  if (!delivery) return false;
  const status = receipt.success ? DELIVERED : UNDELIVERED;
  const code = receipt.errCode.slice(0, 64);
  const at = receiptTime(receipt, now);
  const seen = delivery.receiptStatus === status && delivery.receiptCode === code && delivery.receiptTime?.getTime() === at.getTime();
  if (seen) return true;

  await manager
    .createQueryBuilder()
    .update(HubMessageDelivery)
    .set({ receiptStatus: status, receiptCode: code, receiptTime: at, updatedTime: now })
    .where('id = :id', { id: delivery.id })
    .execute();
  // The message went out: an unsettled send is SENT, whatever its job saw (or did not see) of the answer.
  await manager
    .createQueryBuilder()
    .update(HubMessageDelivery)
    .set({ status: 'SENT', provider, providerMessageId: receipt.messageId, sentTime: () => 'COALESCE(sent_time, :sentAt)', errorCode: null, error: null, updatedTime: now })
    .where('id = :id AND status IN (:...open)', { id: delivery.id, open: ['SENDING', 'UNKNOWN'], sentAt: now })
    .execute();

  if (delivery.recordId) {
    const sms = manager.createQueryBuilder().update(Sms);
    if (receipt.success) {
      await sms
        .set({ status: MessageRecordStatus.SENT, sendTime: () => 'COALESCE(send_time, :sendAt)' })
        .where('sms_id = :smsId AND (status = :pending OR status IS NULL)', { smsId: delivery.recordId, pending: MessageRecordStatus.PENDING, sendAt: now })
        .execute();
    } else {
      await sms
        .set({ status: MessageRecordStatus.FAILED, errorMsg: `receipt ${receipt.errCode}: ${receipt.errMessage}` })
        .where('sms_id = :smsId AND (status IN (:...open) OR status IS NULL)', { smsId: delivery.recordId, open: [MessageRecordStatus.PENDING, MessageRecordStatus.SENT] })
        .execute();
    }
  }
  return true;
}

type ReceiptOutcome = 'delivered' | 'undelivered' | 'unmatched';

/** A deadlock is retried at once this many times in all before the error reaches the vendor (which pushes again later). */
const TRANSACTION_TRIES = 3;

/**
 * Applies a pushed batch in one transaction; unmatched receipts are counted and otherwise ignored.
 * A receipt often races its own send job settling the same delivery (the vendor pushes within
 * milliseconds): the two lock the row by different indexes, so InnoDB may pick one as a deadlock
 * victim. The whole batch is then simply applied again.
 */
export async function applySmsReceipts(db: DataSource, now: Date, provider: SmsProvider, receipts: readonly SmsReceipt[]): Promise<ReceiptCounts> {
  const apply = () =>
    db.transaction(async (manager) => {
      const out: ReceiptOutcome[] = [];
      for (const receipt of receipts) {
        const matched = await applyOne(manager, now, provider, receipt);
        out.push(!matched ? 'unmatched' : receipt.success ? 'delivered' : 'undelivered');
      }
      return out;
    });
  let outcomes: ReceiptOutcome[] | undefined;
  for (let tried = 1; outcomes === undefined; tried++) {
    try {
      outcomes = await apply();
    } catch (err) {
      if (tried >= TRANSACTION_TRIES || !isTransientDatabaseError(err)) throw err;
    }
  }
  for (const outcome of outcomes) smsReceipts.inc({ provider, outcome });
  const unmatched = outcomes.filter((o) => o === 'unmatched').length;
  return { matched: outcomes.length - unmatched, unmatched };
}
