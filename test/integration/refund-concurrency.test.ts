import { AndroidOrder, AndroidOrderStatus } from '../../entities/app/android-order.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { HubReconciliationItem } from '../../entities/hub/hub-reconciliation-item.entity';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { applyWechatRefund, type RefundState } from '../../jobs/wechat-pay/apply-wechat-refund';
import { requestRefund } from '../../jobs/wechat-pay/request-refund';
import { refundSync } from '../../jobs/wechat-pay/refund-sync.job';
import { withAfterCommit } from '../../jobs/caller-transaction';
import { BusinessSource } from '../../entities/dms/audit';
import { clearTables } from '../support/db';
import { refundDisagreements } from '../support/refund-consistency';
import { refundHarness } from '../support/refund-harness';
import { TEST_MCHID } from '../support/wechat-pay';

const ROUNDS = 20;
const REFUNDS = 48;

/**
 * Many refunds of one payment ending at once (issue 21, defect 1): each apply decides the payment's
 * status from its other refunds, and must read them as committed, not as they were when its
 * transaction first read. A stale read left a payment REFUNDING for good with every refund REFUNDED.
 */
describe('refunds of one payment ending at once', () => {
  const t = refundHarness(__filename);
  const db = () => t.h.hub.db;
  beforeEach(() => clearTables(db(), [HubReconciliationItem]));

  const lastPaymentAudit = async (outTradeNo: string): Promise<Record<string, unknown>> => {
    const [row] = await db().getRepository(DmsBusinessLog).find({ where: { businessNo: outTradeNo, businessSource: BusinessSource.PAYMENT }, order: { logId: 'DESC' }, take: 1 });
    return JSON.parse(row?.newValue ?? '{}') as Record<string, unknown>;
  };

  it(`${ROUNDS} rounds of ${REFUNDS} one-fen refunds requested and applied concurrently leave the payment agreeing with its refunds`, async () => {
    const ctx = t.deps();
    const wrong: string[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      // Even rounds refund the whole payment, odd ones part of it; every third round some refunds are CLOSED.
      const amount = round % 2 === 0 ? REFUNDS : REFUNDS + 52;
      const closing = round % 3 === 2 ? 8 : 0;
      const p = await t.paidPayment(amount, { paidAt: new Date(Date.now() - 60_000) });
      // One request more than the payment holds on full rounds: each request reads the others after the
      // payment's lock, so exactly one is refused, whichever comes last.
      const asked = await Promise.allSettled(
        Array.from({ length: amount === REFUNDS ? REFUNDS + 1 : REFUNDS }, (_, i) =>
          requestRefund(ctx, { client: 'crm', idempotencyKey: `round-${round}-${i}`, paymentOrderId: p.id, amount: 1 }),
        ),
      );
      const refused = asked.flatMap((a) => (a.status === 'rejected' ? [a.reason as unknown] : []));
      expect(refused).toEqual(amount === REFUNDS ? [expect.objectContaining({ code: 'REFUND_EXCEEDS_PAID' })] : []);
      const requested = asked.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []));
      const applied = await Promise.all(
        requested.map(({ refund }, i) => {
          const state: RefundState = { out_refund_no: refund.outRefundNo, refund_id: `5030${round}${i}`, status: i < closing ? 'CLOSED' : 'SUCCESS', amount: { refund: 1, total: amount } };
          // Half as the callback job applies them: in its transaction, after its own reads and locks.
          return i % 2 === 0
            ? applyWechatRefund(ctx, TEST_MCHID, state, 'SYNC')
            : withAfterCommit(db(), async (within) => {
                await within.manager.getRepository(EventOrder).count();
                return applyWechatRefund(ctx, TEST_MCHID, state, 'NOTIFICATION', { within });
              });
        }),
      );
      expect(applied.filter((a) => a.outcome === 'refunded')).toHaveLength(REFUNDS - closing);

      const after = await t.payment(p.id);
      const expected = amount === REFUNDS && closing === 0 ? ['REFUNDED'] : closing === 0 ? ['PAY_SUCCESS'] : ['PAY_SUCCESS', 'REFUND_FAILED'];
      const audit = await lastPaymentAudit(p.outTradeNo);
      if (!expected.includes(after.payStatus) || after.refundedAmount !== REFUNDS - closing || audit.payStatus !== after.payStatus || audit.refundedAmount !== after.refundedAmount) {
        wrong.push(`round ${round}: ${after.payStatus} with ${after.refundedAmount} fen refunded (expected ${expected.join('/')}), last audit ${JSON.stringify(audit)}`);
      }
      wrong.push(...(await refundDisagreements(db(), [p.id])).map((line) => `round ${round}: ${line}`));
    }
    expect(wrong).toEqual([]);
    // About 10 s on an idle two-core machine; the margin is for one shared with other work.
  }, 120_000);

  it('refund-sync repairs a payment whose status disagrees with its refunds, and reports a refunded amount that does not add up', async () => {
    const ctx = t.deps();
    const refunds = db().getRepository(RefundOrder);
    const payments = db().getRepository(PaymentOrder);
    /** A paid payment with `n` one-fen refunds requested, the first `done` of them REFUNDED (by hand, as a stale apply left them). */
    const withRefunds = async (amount: number, n: number, done: number, key: string): Promise<PaymentOrder> => {
      const p = await t.paidPayment(amount, { paidAt: new Date(Date.now() - 60_000) });
      const made = [];
      for (let i = 0; i < n; i += 1) made.push((await requestRefund(ctx, { client: 'crm', idempotencyKey: `${key}-${i}`, paymentOrderId: p.id, amount: 1 })).refund);
      for (const r of made.slice(0, done)) await refunds.update({ outRefundNo: r.outRefundNo }, { status: 'REFUNDED', wechatStatus: 'SUCCESS', updatedTime: new Date() });
      await payments.update({ id: p.id }, { refundedAmount: done });
      return t.payment(p.id);
    };
    const stuck = await withRefunds(100, 3, 3, 'stuck'); // REFUNDING, nothing in flight → PAY_SUCCESS
    const full = await withRefunds(2, 2, 2, 'full'); // REFUNDING, all refunded → REFUNDED, its event order too
    const settled = await withRefunds(100, 2, 1, 'settled');
    await payments.update({ id: settled.id }, { payStatus: 'PAY_SUCCESS' }); // one still in flight → REFUNDING
    const drifted = await withRefunds(100, 2, 2, 'drift');
    await payments.update({ id: drifted.id }, { refundedAmount: 5 }); // money that does not add up: reported, untouched
    const fine = await withRefunds(100, 2, 0, 'fine'); // REFUNDING with both in flight: agrees
    const oid = t.newNo('A');
    await db().getRepository(AndroidOrder).insert({ oid, uid: 7, productId: 3, productPrice: 2, orderAmount: 2, paymentAmount: 2, status: AndroidOrderStatus.PAID, payTime: new Date(), createdAt: new Date() });
    for (let i = 0; i < 2; i += 1) {
      const { refund } = await requestRefund(ctx, { client: 'crm', idempotencyKey: `app-${i}`, outTradeNo: oid, amount: 1 });
      await refunds.update({ outRefundNo: refund.outRefundNo }, { status: 'REFUNDED', wechatStatus: 'SUCCESS', updatedTime: new Date() });
    }
    for (const p of [stuck, full, settled, drifted]) expect(await refundDisagreements(db(), [p.id])).not.toEqual([]);

    const sync = async (id: string) => t.jobFinished((await t.h.hub.enqueue(refundSync, { batchSize: 100 }, { jobId: id })).id);
    expect(await sync('refund-sync-repair-1')).toMatchObject({ status: 'done', result: { repair: { repaired: 4, amountMismatches: 1 } } });
    expect(await t.payment(stuck.id)).toMatchObject({ payStatus: 'PAY_SUCCESS', refundedAmount: 3 });
    expect(await t.payment(full.id)).toMatchObject({ payStatus: 'REFUNDED', refundedAmount: 2 });
    expect(await db().getRepository(EventOrder).findOneByOrFail({ paymentOrderId: full.id })).toMatchObject({ pamentStatus: 'REFUNDED', status: 'REFUNDED' });
    expect(await t.payment(settled.id)).toMatchObject({ payStatus: 'REFUNDING', refundedAmount: 1 });
    expect(await t.payment(drifted.id)).toMatchObject({ payStatus: 'REFUNDING', refundedAmount: 5 });
    expect(await t.payment(fine.id)).toMatchObject({ payStatus: 'REFUNDING' });
    expect((await db().getRepository(AndroidOrder).findOneByOrFail({ oid })).status).toBe(AndroidOrderStatus.REFUNDED);
    expect(await refundDisagreements(db(), [stuck.id, full.id, settled.id, fine.id])).toEqual([]);
    expect(await lastPaymentAudit(stuck.outTradeNo)).toEqual({ payStatus: 'PAY_SUCCESS', refundedAmount: 3 });
    expect(await t.audits(fine.outTradeNo, BusinessSource.PAYMENT)).toHaveLength(1);
    expect(await t.audits(oid, BusinessSource.APP_ORDER)).toHaveLength(1);
    expect(t.alerts('refund-status-repaired').map((a) => a.outTradeNo ?? a.oid).sort()).toEqual([full.outTradeNo, oid, settled.outTradeNo, stuck.outTradeNo].sort());
    expect(await db().getRepository(HubReconciliationItem).findBy({ outTradeNo: drifted.outTradeNo })).toEqual([
      expect.objectContaining({ kind: 'REFUNDED_AMOUNT_MISMATCH', source: 'SYNC', localTable: 'payment_order', localAmount: '5', wechatAmount: '2', localStatus: 'REFUNDING' }),
    ]);
    expect(t.alerts('refunded-amount-mismatch').filter((a) => a.outTradeNo === drifted.outTradeNo)).toHaveLength(1);

    // A second run finds nothing more to repair, and reports the same difference no more.
    expect(await sync('refund-sync-repair-2')).toMatchObject({ result: { repair: { repaired: 0, amountMismatches: 1 } } });
    expect(t.alerts('refunded-amount-mismatch').filter((a) => a.outTradeNo === drifted.outTradeNo)).toHaveLength(1);
    expect(t.alerts('refund-status-repaired')).toHaveLength(4);
    await clearTables(db(), [HubReconciliationItem]);
  });
});
