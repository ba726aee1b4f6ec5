import type { DataSource, EntityManager } from 'typeorm';
import { cutToColumn, fitsColumn } from '../../entities/column-fit';
import { MessageRecordStatus, Sms } from '../../entities/customer-service/sms.entity';
import { HubMessageDelivery } from '../../entities/hub/hub-message-delivery.entity';
import type { SmsProvider, SmsReceipt, SmsReceiptBatch } from '../../integrations/sms/sms.client';
import { isBadValueDatabaseError, isTransientDatabaseError } from '../../lib/errors';
import { smsReceipts } from '../../lib/metrics';
import { retryAtOnce } from '../../lib/retry';
import { parseBeijing } from '../../lib/time';

/**
 * Delivery receipts (回执) applied to their deliveries and `sms` rows. A receipt proves the message
 * went out, so it also settles a delivery whose send answer was lost (UNKNOWN) or not yet saved
 * (SENDING). Every change is guarded so that the same receipt pushed again changes nothing more,
 * and nothing moves a FAILED or SENT delivery back. Vendor text is cut to its column here; a vendor
 * id that its column cannot hold refuses that receipt alone.
 */

/** A receipt not applied: where it was in the pushed batch, its message id (cut, for logs) and why. */
export interface RefusedReceipt {
  index: number;
  messageId?: string;
  reason: string;
}

export interface ReceiptCounts {
  matched: number;
  unmatched: number;
  refused: RefusedReceipt[];
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
  const code = cutToColumn(HubMessageDelivery, 'receiptCode', receipt.errCode);
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
        .set({ status: MessageRecordStatus.FAILED, errorMsg: cutToColumn(Sms, 'errorMsg', `receipt ${receipt.errCode}: ${receipt.errMessage}`) })
        .where('sms_id = :smsId AND (status IN (:...open) OR status IS NULL)', { smsId: delivery.recordId, open: [MessageRecordStatus.PENDING, MessageRecordStatus.SENT] })
        .execute();
    }
  }
  return true;
}

type ReceiptOutcome = 'delivered' | 'undelivered' | 'unmatched' | 'refused';

/** A deadlock is retried at once this many times in all before the error reaches the vendor (which pushes again later). */
const TRANSACTION_TRIES = 3;

/** Enough of a vendor id to find it in the vendor's console, however long the id that came. */
const forLog = (messageId: string): string => messageId.slice(0, 64);

/** The driver's name for a database error (`ER_DATA_TOO_LONG`), for a report that carries no values. */
function databaseCode(err: unknown): string {
  const driver = (err as { driverError?: { code?: unknown } } | null)?.driverError;
  return typeof driver?.code === 'string' ? driver.code : 'bad value';
}

/** Why a receipt cannot be applied as it came, before any database work: an id its column cannot hold. */
function refusal(receipt: SmsReceipt): string | null {
  if (!fitsColumn(HubMessageDelivery, 'providerMessageId', receipt.messageId)) return 'message id longer than hub_message_delivery.provider_message_id holds';
  return null;
}

/**
 * Applies a pushed batch in one transaction, each receipt behind a savepoint of its own: a value the
 * database refuses (strict mode) undoes that receipt alone, which is reported with the rows the client
 * could not read and the ids no column holds; unmatched receipts are counted and otherwise ignored. A
 * transient error (deadlock, lost connection) is the batch's, not a row's. A receipt often races its
 * own send job settling the same delivery (the vendor pushes within milliseconds): the two lock the
 * row by different indexes, so InnoDB may pick one as a deadlock victim. The whole batch is then
 * simply applied again; past the tries the error reaches the route, whose 503 makes the vendor push again.
 */
export async function applySmsReceipts(db: DataSource, now: Date, provider: SmsProvider, batch: SmsReceiptBatch): Promise<ReceiptCounts> {
  const refused: RefusedReceipt[] = [...batch.rejected];
  const accepted: SmsReceipt[] = [];
  for (const receipt of batch.receipts) {
    const reason = refusal(receipt);
    if (reason) refused.push({ index: receipt.index, messageId: forLog(receipt.messageId), reason });
    else accepted.push(receipt);
  }
  const apply = () =>
    db.transaction(async (manager) => {
      const out: { receipt: SmsReceipt; outcome: ReceiptOutcome; reason?: string }[] = [];
      for (const receipt of accepted) {
        await manager.query('SAVEPOINT sms_receipt');
        try {
          const matched = await applyOne(manager, now, provider, receipt);
          out.push({ receipt, outcome: !matched ? 'unmatched' : receipt.success ? 'delivered' : 'undelivered' });
        } catch (err) {
          if (!isBadValueDatabaseError(err)) throw err;
          await manager.query('ROLLBACK TO SAVEPOINT sms_receipt');
          out.push({ receipt, outcome: 'refused', reason: `the database refused a value (${databaseCode(err)})` });
        }
      }
      return out;
    });
  const outcomes = await retryAtOnce(TRANSACTION_TRIES, isTransientDatabaseError, apply);
  const counts: ReceiptCounts = { matched: 0, unmatched: 0, refused };
  for (const { receipt, outcome, reason } of outcomes) {
    if (outcome === 'refused') refused.push({ index: receipt.index, messageId: forLog(receipt.messageId), reason: reason ?? outcome });
    else if (outcome === 'unmatched') counts.unmatched++;
    else counts.matched++;
    if (outcome !== 'refused') smsReceipts.inc({ provider, outcome });
  }
  if (refused.length > 0) smsReceipts.inc({ provider, outcome: 'refused' }, refused.length);
  refused.sort((a, b) => a.index - b.index);
  return counts;
}
