import { In, type DataSource } from 'typeorm';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { BusinessSource } from '../../entities/dms/audit';

/**
 * What must hold of a payment and its refunds once they are at rest, written from the README's
 * rules rather than from the code under test: `refunded_amount` is what its REFUNDED refunds add up
 * to; `pay_status` is REFUNDED when that is the whole amount, else REFUNDING while a refund is in
 * flight, else settled (PAY_SUCCESS, or REFUND_FAILED when one failed); and the payment's last
 * `dms_business_log` row says the same. Returns one line per disagreement, none when all agree.
 */
export async function refundDisagreements(db: DataSource, paymentIds?: readonly string[]): Promise<string[]> {
  const payments = await db.getRepository(PaymentOrder).find(paymentIds ? { where: { id: In([...paymentIds]) } } : {});
  const found: string[] = [];
  for (const p of payments) {
    const refunds = await db.getRepository(RefundOrder).find({ where: { paymentOrderId: p.id }, select: { id: true, amount: true, status: true } });
    if (refunds.length === 0) continue;
    const refunded = refunds.filter((r) => r.status === 'REFUNDED').reduce((sum, r) => sum + r.amount, 0);
    const inFlight = refunds.filter((r) => r.status === 'REFUNDING').length;
    const failed = refunds.some((r) => r.status === 'REFUND_FAILED');
    const allowed = refunded >= p.amount ? ['REFUNDED'] : inFlight > 0 ? ['REFUNDING'] : failed ? ['PAY_SUCCESS', 'REFUND_FAILED'] : ['PAY_SUCCESS'];
    const at = `${p.outTradeNo}: ${p.payStatus}, ${p.refundedAmount} fen refunded; its refunds ${refunded} of ${p.amount} fen refunded, ${inFlight} in flight`;
    if (!allowed.includes(p.payStatus)) found.push(`${at}: pay_status should be ${allowed.join(' or ')}`);
    if (p.refundedAmount !== refunded) found.push(`${at}: refunded_amount should be ${refunded}`);
    const [last] = await db.getRepository(DmsBusinessLog).find({ where: { businessNo: p.outTradeNo, businessSource: BusinessSource.PAYMENT }, order: { logId: 'DESC' }, take: 1 });
    const said = JSON.parse(last?.newValue ?? '{}') as { payStatus?: string; refundedAmount?: number };
    if (said.payStatus !== p.payStatus) found.push(`${at}: the last dms_business_log row says ${String(said.payStatus)}`);
    if (said.refundedAmount !== undefined && said.refundedAmount !== p.refundedAmount) found.push(`${at}: the last dms_business_log row says ${said.refundedAmount} fen refunded`);
  }
  return found;
}
