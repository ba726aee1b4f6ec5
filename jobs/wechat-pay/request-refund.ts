import { z } from 'zod';
import type { EntityManager } from 'typeorm';
import { AndroidOrder, AndroidOrderStatus } from '../../entities/app/android-order.entity';
import { PaymentOrder, type PaymentBusinessType, type PayStatus } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { BusinessSource, OperationType } from '../../entities/dms/audit';
import type { Enqueue, EnqueuedJob, JobContext } from '../context';
import { PermanentError, isDuplicateKeyError } from '../../lib/errors';
import { exactKey } from '../../lib/exact-key';
import { refundSubmit } from './refund-submit.job';
import { refundMayPayOut } from './apply-wechat-refund';
import { hashedId } from '../../lib/hashed-id';

/**
 * Records the intent to refund before anything reaches WeChat: one `refund_order` row whose
 * `out_refund_no` is derived from the caller and its idempotency key, so a request repeated (an API
 * retry, a job run twice) finds the same row and WeChat is only ever asked about that one number.
 * Every rule is checked under the payment's row lock in the transaction that inserts the row: a
 * refused refund writes nothing. Callable from the API and from jobs (ctx has all it needs).
 */

export type RefundRequestDeps = Pick<JobContext, 'db' | 'log' | 'audit' | 'now'>;

export interface RefundRequest {
  /** Who asks: an API client, or a job's own name. */
  client: string;
  idempotencyKey: string;
  outTradeNo?: string;
  paymentOrderId?: string;
  /** fen */
  amount: number;
  reason?: string;
}

export type RefundRefusalCode =
  | 'INVALID_REFUND_REQUEST'
  | 'PAYMENT_NOT_FOUND'
  | 'PAYMENT_NOT_PAID'
  | 'PAYMENT_TOO_OLD'
  | 'REFUND_EXCEEDS_PAID'
  | 'TOO_MANY_REFUNDS'
  | 'IDEMPOTENCY_KEY_REUSED';

const HTTP_STATUS: Record<RefundRefusalCode, number> = {
  INVALID_REFUND_REQUEST: 400,
  PAYMENT_NOT_FOUND: 404,
  PAYMENT_NOT_PAID: 422,
  PAYMENT_TOO_OLD: 422,
  REFUND_EXCEEDS_PAID: 422,
  TOO_MANY_REFUNDS: 422,
  IDEMPOTENCY_KEY_REUSED: 409,
};

/** A refund refused by a rule; nothing was written. A PermanentError, so a job calling this fails at once. */
export class RefundRefusedError extends PermanentError {
  readonly httpStatus: number;
  constructor(
    override readonly code: RefundRefusalCode,
    message: string,
  ) {
    super(code, message);
    this.httpStatus = HTTP_STATUS[code];
  }
}

/** WeChat's rules (refund API): at most 50 refunds of one payment, within a year of payment. */
/** A refund request's bounds, one place for every producer (the API's body, the CLI's arguments). */
export const refundRequestFields = {
  outTradeNo: z.string().min(1).max(64),
  amount: z.number().int('expected whole fen').min(1).max(2_147_483_647),
  reason: z.string().min(1).max(80),
};

export const MAX_REFUNDS_PER_PAYMENT = 50;

/** Statuses of a payment whose money we hold (a failed refund leaves it with us). */
const PAID: readonly PayStatus[] = ['PAY_SUCCESS', 'REFUNDING', 'REFUND_FAILED', 'REFUNDED'];

/** `R` + 31 hex of sha256(client, key): within WeChat's `[0-9A-Za-z]`, ≤ 64, the same for the same request. */
export function outRefundNoFor(client: string, idempotencyKey: string): string {
  return hashedId('R', `${client}\n${idempotencyKey}`, 31);
}

/** The job that calls WeChat for a refund: one per refund ever, named by its out_refund_no. */
export const refundJobId = (outRefundNo: string): string => `refund-${outRefundNo}`;

export function enqueueRefundSubmit(enqueue: Enqueue, outRefundNo: string): Promise<EnqueuedJob> {
  return enqueue(refundSubmit, { outRefundNo }, { jobId: refundJobId(outRefundNo) });
}

/** What callers see of a refund. */
export interface RefundView {
  refundOrderId: string;
  outRefundNo: string;
  outTradeNo: string;
  paymentOrderId: string | null;
  businessType: PaymentBusinessType;
  amount: number;
  total: number;
  reason: string | null;
  status: RefundOrder['status'];
  wechatStatus: RefundOrder['wechatStatus'];
  refundId: string | null;
  successTime: string | null;
  failReason: string | null;
  createdTime: string;
}

export function viewRefund(r: RefundOrder): RefundView {
  return {
    refundOrderId: r.id,
    outRefundNo: r.outRefundNo,
    outTradeNo: r.outTradeNo,
    paymentOrderId: r.paymentOrderId,
    businessType: r.businessType,
    amount: r.amount,
    total: r.total,
    reason: r.reason,
    status: r.status,
    wechatStatus: r.wechatStatus,
    refundId: r.refundId,
    successTime: r.successTime?.toISOString() ?? null,
    failReason: r.failReason,
    createdTime: r.createdTime.toISOString(),
  };
}

/** The payment being refunded, locked: a payment_order, or an app order (android_order) by its oid. */
type Paid =
  | { kind: 'payment'; row: PaymentOrder }
  | { kind: 'android'; row: AndroidOrder };

export async function requestRefund(deps: RefundRequestDeps, input: RefundRequest): Promise<{ refund: RefundView; created: boolean }> {
  checkShape(input);
  const outRefundNo = outRefundNoFor(input.client, input.idempotencyKey);
  const existing = await deps.db.getRepository(RefundOrder).findOne({ where: { outRefundNo } });
  if (existing) return { refund: sameRequest(existing, input), created: false };
  try {
    const { row, created } = await deps.db.transaction((m) => insertRefund(deps, m, input, outRefundNo));
    if (!created) return { refund: sameRequest(row, input), created: false };
    deps.log.info({ outRefundNo, outTradeNo: row.outTradeNo, amount: row.amount, client: input.client }, 'refund requested');
    return { refund: viewRefund(row), created: true };
  } catch (err) {
    // The same key raced us (the same request twice at once, or the key on another payment).
    if (!isDuplicateKeyError(err)) throw err;
    const raced = await deps.db.getRepository(RefundOrder).findOneOrFail({ where: { outRefundNo } });
    return { refund: sameRequest(raced, input), created: false };
  }
}

function checkShape(input: RefundRequest): void {
  if ((input.outTradeNo === undefined) === (input.paymentOrderId === undefined)) {
    throw new RefundRefusedError('INVALID_REFUND_REQUEST', 'exactly one of outTradeNo and paymentOrderId is required');
  }
  if (input.paymentOrderId !== undefined && !/^\d{1,19}$/.test(input.paymentOrderId)) {
    throw new RefundRefusedError('INVALID_REFUND_REQUEST', 'paymentOrderId must be digits');
  }
  if (!Number.isSafeInteger(input.amount) || input.amount < 1) throw new RefundRefusedError('INVALID_REFUND_REQUEST', 'amount must be a whole number of fen, at least 1');
  if (input.reason !== undefined && input.reason.length > 80) throw new RefundRefusedError('INVALID_REFUND_REQUEST', 'reason must be at most 80 characters');
  if (input.idempotencyKey.length === 0) throw new RefundRefusedError('INVALID_REFUND_REQUEST', 'an idempotency key is required');
}

/** The row of this key answers only the request that made it. */
function sameRequest(row: RefundOrder, input: RefundRequest): RefundView {
  const samePayment = input.paymentOrderId !== undefined ? row.paymentOrderId === input.paymentOrderId : row.outTradeNo === input.outTradeNo;
  if (!samePayment || row.amount !== input.amount) {
    throw new RefundRefusedError('IDEMPOTENCY_KEY_REUSED', `this idempotency key already requested refund ${row.outRefundNo} of another payment or amount; use a new key`);
  }
  return viewRefund(row);
}

async function lockPayment(m: EntityManager, input: RefundRequest): Promise<Paid> {
  const q = m.createQueryBuilder(PaymentOrder, 'p').setLock('pessimistic_write');
  const payment = input.paymentOrderId !== undefined
    ? await q.where('p.id = :id AND p.deleted = 0', { id: input.paymentOrderId }).getOne()
    : await q.where(`${exactKey('p.out_trade_no', 'no')} AND p.deleted = 0`, { no: input.outTradeNo }).getOne();
  if (payment) return { kind: 'payment', row: payment };
  if (input.outTradeNo !== undefined) {
    const android = await m.createQueryBuilder(AndroidOrder, 'a').setLock('pessimistic_write').where(exactKey('a.oid', 'oid'), { oid: input.outTradeNo }).getOne();
    if (android) return { kind: 'android', row: android };
  }
  const which = input.paymentOrderId !== undefined ? `payment_order ${input.paymentOrderId}` : `out_trade_no ${input.outTradeNo ?? ''}`;
  throw new RefundRefusedError('PAYMENT_NOT_FOUND', `no payment ${which}`);
}

/** The payment's facts the rules read, whichever table it lives in. */
function factsOf(paid: Paid): { outTradeNo: string; paid: boolean; paidAt: Date | null; total: number } {
  if (paid.kind === 'payment') {
    const p = paid.row;
    return { outTradeNo: p.outTradeNo, paid: PAID.includes(p.payStatus), paidAt: p.successTime ?? p.createdTime, total: p.amount };
  }
  const a = paid.row;
  const isPaid = a.status === AndroidOrderStatus.PAID || a.status === AndroidOrderStatus.REFUNDED;
  return { outTradeNo: a.oid, paid: isPaid, paidAt: a.payTime ?? a.createdAt, total: a.orderAmount };
}

/** One calendar year after `at` (WeChat refunds payments up to a year old). */
function yearAfter(at: Date): Date {
  const d = new Date(at.getTime());
  d.setUTCFullYear(d.getUTCFullYear() + 1);
  return d;
}

async function insertRefund(deps: RefundRequestDeps, m: EntityManager, input: RefundRequest, outRefundNo: string): Promise<{ row: RefundOrder; created: boolean }> {
  const paid = await lockPayment(m, input);
  // The same request may have been waiting for this lock behind itself: it finds its own refund.
  // Plain reads, not locking ones: the payment's lock already orders every refund of it, and this
  // transaction's snapshot starts after that lock was granted, because InnoDB opens a REPEATABLE READ
  // snapshot at the first plain read, not at START TRANSACTION, and lockPayment's locking reads are
  // the first statements here (keep it so: one plain read before them would make these reads stale,
  // the mistake apply-wechat-refund.ts once made; refund-concurrency.test.ts races 49 requests for 48 fen).
  // Locking reads of absent keys would take gap locks that concurrent refunds of other payments
  // insert into: deadlocks under load.
  const mine = await m.createQueryBuilder(RefundOrder, 'r').where('r.out_refund_no = :outRefundNo', { outRefundNo }).getOne();
  if (mine) return { row: mine, created: false };
  const facts = factsOf(paid);
  const now = deps.now();
  if (!facts.paid) throw new RefundRefusedError('PAYMENT_NOT_PAID', `payment ${facts.outTradeNo} is not paid (status ${paid.kind === 'payment' ? paid.row.payStatus : String(paid.row.status)})`);
  if (facts.paidAt && yearAfter(facts.paidAt) <= now) {
    throw new RefundRefusedError('PAYMENT_TOO_OLD', `payment ${facts.outTradeNo} was paid on ${facts.paidAt.toISOString()}: WeChat refunds payments up to one year old`);
  }
  // Under the payment's lock every refund of it is inserted: these reads see all of them.
  const prior = await m
    .createQueryBuilder(RefundOrder, 'r')
    .select(['r.id', 'r.amount', 'r.status', 'r.wechatStatus'])
    .where(paid.kind === 'payment' ? 'r.payment_order_id = :key' : "r.out_trade_no = :key AND r.payment_order_id IS NULL AND r.business_type = 'APP'", {
      key: paid.kind === 'payment' ? paid.row.id : paid.row.oid,
    })
    .getMany();
  if (prior.length >= MAX_REFUNDS_PER_PAYMENT) {
    throw new RefundRefusedError('TOO_MANY_REFUNDS', `payment ${facts.outTradeNo} already has ${prior.length} refunds: WeChat allows ${MAX_REFUNDS_PER_PAYMENT}`);
  }
  const committed = prior.filter(refundMayPayOut).reduce((sum, r) => sum + r.amount, 0);
  if (committed + input.amount > facts.total) {
    throw new RefundRefusedError('REFUND_EXCEEDS_PAID', `payment ${facts.outTradeNo} paid ${facts.total} fen, ${committed} fen already refunded or on the way: ${input.amount} fen more is too much`);
  }

  const p = paid.kind === 'payment' ? paid.row : null;
  const row: Omit<RefundOrder, 'id'> = {
    paymentOrderId: p?.id ?? null,
    organizationId: p?.organizationId ?? null,
    memberId: p?.memberId ?? null,
    businessType: p?.businessType ?? 'APP',
    businessOrderId: p ? p.businessOrderId : facts.outTradeNo,
    outTradeNo: facts.outTradeNo,
    transactionId: p ? p.transactionId : paid.kind === 'android' ? paid.row.tid : null,
    outRefundNo,
    refundId: null,
    amount: input.amount,
    total: facts.total,
    reason: input.reason ?? null,
    status: 'REFUNDING',
    wechatStatus: null,
    userReceivedAccount: null,
    successTime: null,
    failReason: null,
    createdTime: now,
    updatedTime: now,
    deleted: 0,
  };
  await m.insert(RefundOrder, row);
  const inserted = await m.findOneOrFail(RefundOrder, { where: { outRefundNo } });
  const remark = `refund requested by ${input.client}`;
  await deps.audit(m, { businessNo: outRefundNo, source: BusinessSource.REFUND, operation: OperationType.CREATE, newValue: { ...viewRefund(inserted) }, remark });
  if (p && p.payStatus !== 'REFUNDING') {
    await m.createQueryBuilder().update(PaymentOrder).set({ payStatus: 'REFUNDING', updatedTime: now }).where('id = :id', { id: p.id }).execute();
    await deps.audit(m, { businessNo: p.outTradeNo, source: BusinessSource.PAYMENT, operation: OperationType.UPDATE, oldValue: { payStatus: p.payStatus }, newValue: { payStatus: 'REFUNDING' }, remark });
  }
  // android_order has no refunding status: it stays paid until fully refunded.
  return { row: inserted, created: true };
}
