import { deliveryJobId } from '../../jobs/messaging/delivery';
import { reconcileLockName } from '../../jobs/reconcile-lock';
import { outRefundNoFor } from '../../jobs/wechat-pay/request-refund';
import { hashedId } from '../../lib/hashed-id';
import type { DataSource } from 'typeorm';

/**
 * Ids derived from keys are stored (out_refund_no at WeChat, job ids in Redis, lock names on the
 * server): the same key must give the same id in every release. Pinned to values computed once.
 */
describe('derived ids', () => {
  it('keep their values', () => {
    expect(deliveryJobId('notify-42')).toBe('msg-612972499335efe51db05e1f970c02eba4074d1a');
    expect(outRefundNoFor('marketing', 'ord-1')).toBe('Rf866e0cdbe1e3f95b1524dfc1139625');
    const db = { options: { database: 'jobhub' } } as unknown as DataSource;
    expect(reconcileLockName({ db }, 'WECHAT', '1900000001', '2026-12-02')).toBe('jobhub-reconcile-afd729f74cde083cc7dfaf9e0e00e6e9e5ac35c8');
  });

  it('have the length asked for, whatever the key', () => {
    expect(hashedId('x-', 'a'.repeat(10_000), 20)).toMatch(/^x-[0-9a-f]{20}$/);
    expect(hashedId('', '')).toHaveLength(64);
  });
});
