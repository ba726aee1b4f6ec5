import type { QueueEvents } from 'bullmq';
import type { AfterQueryEvent } from 'typeorm';
import { DiscountCouponCode } from '../../entities/marketing/discount-coupon-code.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import type { CouponCodeStatus } from '../../entities/marketing/discount-coupon-code.entity';
import { couponExpire } from '../../jobs/marketing/coupon/coupon-expire.job';
import { expireDueCoupons, NO_COUPON_ID } from '../../jobs/marketing/coupon/coupon-expiry';
import { auditAt, BusinessSource } from '../../entities/dms/audit';
import { parseBeijing } from '../../lib/time';
import { clearTables } from '../support/db';
import { openTestHub, type TestHub } from '../support/hub';
import { testQueueEvents } from '../support/queues';

const NOW = parseBeijing('2026-11-23 10:00:00');
const CREATED = parseBeijing('2026-11-01 09:00:00');
const SECOND = 1_000;

interface Codes {
  count: number;
  status: CouponCodeStatus;
  /** effect_end_time relative to NOW. */
  endsInMs: number;
  couponId?: string | null;
}

type Result = { status: 'done'; result: { expired: number; coupons: Record<string, number> } };

describe('coupon-expire', () => {
  let hub: TestHub;
  let events: QueueEvents;
  let clock = NOW;

  beforeAll(async () => {
    hub = await openTestHub(__filename, { now: () => clock });
    events = await testQueueEvents('marketing', hub.prefix);
    hub.startWorkers(['marketing']);
  });
  afterAll(async () => {
    await events.close();
    await clearTables(hub.db, [DiscountCouponCode, DmsBusinessLog]);
    await hub.close();
  });
  beforeEach(async () => {
    clock = NOW;
    await clearTables(hub.db, [DiscountCouponCode, DmsBusinessLog]);
  });

  const insert = async ({ count, status, endsInMs, couponId = '7' }: Codes): Promise<void> => {
    const rows = Array.from({ length: count }, (_, i) => ({
      code: `C${status}${endsInMs}-${i}`,
      discountCouponId: couponId,
      memberId: String(1 + i),
      status,
      effectEndTime: new Date(NOW.getTime() + endsInMs),
      createdTime: CREATED,
      updatedTime: CREATED,
    }));
    for (let i = 0; i < rows.length; i += 1_000) await hub.db.getRepository(DiscountCouponCode).insert(rows.slice(i, i + 1_000));
  };

  const run = async (batchSize?: number): Promise<Result> => {
    const { id } = await hub.enqueue(couponExpire, batchSize === undefined ? {} : { batchSize });
    const job = await hub.queues.get('marketing').getJob(id);
    return (await job?.waitUntilFinished(events, 25_000)) as Result;
  };

  const statuses = async (): Promise<Record<string, number>> => {
    const rows = await hub.db.query<{ status: string; n: string }[]>('SELECT status, COUNT(*) AS n FROM discount_coupon_code GROUP BY status');
    return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  };

  /** Sum of the audit rows' counts per coupon, and how many rows each coupon has. */
  const audits = async (): Promise<{ counts: Record<string, number>; rows: Record<string, number>; runs: string[] }> => {
    const logs = await hub.db.getRepository(DmsBusinessLog).find({ where: { businessSource: BusinessSource.COUPON } });
    const counts: Record<string, number> = {};
    const rows: Record<string, number> = {};
    const runs = new Set<string>();
    for (const log of logs) {
      const value = JSON.parse(log.newValue ?? '{}') as { count: number; run: string; status: string };
      expect(value.status).toBe('TIME_OUT');
      counts[log.businessNo] = (counts[log.businessNo] ?? 0) + value.count;
      rows[log.businessNo] = (rows[log.businessNo] ?? 0) + 1;
      runs.add(value.run);
    }
    return { counts, rows, runs: [...runs] };
  };

  it('expires a code that ended a second or a millisecond ago, keeps one ending exactly now', async () => {
    await insert({ count: 3, status: 'UNUSED', endsInMs: -SECOND });
    await insert({ count: 2, status: 'UNOPEN', endsInMs: -SECOND });
    await insert({ count: 4, status: 'UNUSED', endsInMs: 0, couponId: '8' });
    await insert({ count: 1, status: 'UNOPEN', endsInMs: 0, couponId: '8' });
    expect(await run()).toEqual({ status: 'done', result: { expired: 5, coupons: { '7': 5 } } });
    expect(await statuses()).toEqual({ TIME_OUT: 5, UNUSED: 4, UNOPEN: 1 });
    // A millisecond later the codes ending at the old "now" are past their end.
    clock = new Date(NOW.getTime() + 1);
    expect(await run()).toEqual({ status: 'done', result: { expired: 5, coupons: { '8': 5 } } });
    const expired = await hub.db.getRepository(DiscountCouponCode).find({ where: { discountCouponId: '8' } });
    expect(expired.map((c) => [c.status, c.updatedTime?.getTime()])).toEqual(Array.from({ length: 5 }, () => ['TIME_OUT', NOW.getTime()]));
  });

  it('never touches USED, TIME_OUT or UNSEND codes, nor valid ones', async () => {
    await insert({ count: 10, status: 'UNUSED', endsInMs: -SECOND });
    for (const status of ['USED', 'TIME_OUT', 'UNSEND'] as const) await insert({ count: 5, status, endsInMs: -86_400 * SECOND });
    await insert({ count: 6, status: 'UNUSED', endsInMs: 60 * SECOND });
    await insert({ count: 6, status: 'UNOPEN', endsInMs: SECOND });
    expect((await run(4)).result.expired).toBe(10);
    const untouched = await hub.db.query<{ status: string; n: string }[]>(
      'SELECT status, COUNT(*) AS n FROM discount_coupon_code WHERE updated_time = ? GROUP BY status ORDER BY status',
      [CREATED],
    );
    expect(untouched.map((r) => [r.status, Number(r.n)])).toEqual([['TIME_OUT', 5], ['UNOPEN', 6], ['UNSEND', 5], ['UNUSED', 6], ['USED', 5]]);
  });

  it('reads effect_end_time as Beijing wall-clock time: a code valid through a Beijing day ends at its midnight', async () => {
    const insertAt = (code: string, end: string): Promise<unknown> =>
      hub.db.query("INSERT INTO discount_coupon_code (code, discount_coupon_id, status, effect_end_time) VALUES (?, 9, 'UNUSED', ?)", [code, end]);
    await insertAt('last-second-of-23rd', '2026-11-23 23:59:59');
    await insertAt('midnight', '2026-11-24 00:00:00');
    await insertAt('morning-of-24th', '2026-11-24 07:59:59');
    clock = parseBeijing('2026-11-23 23:59:59');
    expect((await run()).result.expired).toBe(0);
    clock = parseBeijing('2026-11-24 00:00:00');
    expect((await run()).result).toEqual({ expired: 1, coupons: { '9': 1 } });
    const left = await hub.db.query<{ code: string; status: string }[]>('SELECT code, status FROM discount_coupon_code ORDER BY id');
    expect(left).toEqual([
      { code: 'last-second-of-23rd', status: 'TIME_OUT' },
      { code: 'midnight', status: 'UNUSED' },
      { code: 'morning-of-24th', status: 'UNUSED' },
    ]);
  });

  it('counts per coupon in the result and in one dms_business_log row per coupon; a rerun changes nothing', async () => {
    await insert({ count: 120, status: 'UNUSED', endsInMs: -SECOND, couponId: '101' });
    await insert({ count: 45, status: 'UNOPEN', endsInMs: -3_600 * SECOND, couponId: '102' });
    await insert({ count: 30, status: 'UNUSED', endsInMs: 3_600 * SECOND, couponId: '102' });
    await insert({ count: 3, status: 'UNOPEN', endsInMs: -SECOND, couponId: null });
    const first = await run(50);
    expect(first.result).toEqual({ expired: 168, coupons: { '101': 120, '102': 45, [NO_COUPON_ID]: 3 } });
    const logged = await audits();
    expect(logged.counts).toEqual({ '101': 120, '102': 45, [NO_COUPON_ID]: 3 });
    expect(logged.rows).toEqual({ '101': 1, '102': 1, [NO_COUPON_ID]: 1 });
    expect(logged.runs).toHaveLength(1);

    clock = new Date(NOW.getTime() + 60 * SECOND);
    expect(await run(50)).toEqual({ status: 'done', result: { expired: 0, coupons: {} } });
    expect(await hub.db.getRepository(DmsBusinessLog).count()).toBe(3);
    const [changedAgain] = await hub.db.query<{ n: string }[]>('SELECT COUNT(*) AS n FROM discount_coupon_code WHERE updated_time > ?', [NOW]);
    expect(Number(changedAgain?.n)).toBe(0);
  });

  it('walks only the id range holding due codes, found through the status index', async () => {
    await insert({ count: 1_000, status: 'UNUSED', endsInMs: SECOND });
    await insert({ count: 40, status: 'UNOPEN', endsInMs: -SECOND });
    await insert({ count: 1_000, status: 'USED', endsInMs: -SECOND });
    const outcome = await expireDueCoupons({ db: hub.db, now: NOW, batchSize: 25, audit: auditAt(() => NOW), runId: 'range' });
    expect([outcome.expired, outcome.windows]).toEqual([40, 2]);
    const none = await expireDueCoupons({ db: hub.db, now: NOW, batchSize: 25, audit: auditAt(() => NOW), runId: 'none' });
    expect([none.expired, none.windows]).toEqual([0, 0]);
  });

  it('counts with statements both MariaDB and MySQL 8 keep: no user variable assigned, no timings in the result', async () => {
    await insert({ count: 30, status: 'UNUSED', endsInMs: -SECOND, couponId: '5' });
    await insert({ count: 20, status: 'UNOPEN', endsInMs: -SECOND, couponId: null });
    const statements: string[] = [];
    const subscriber = { afterQuery: (event: AfterQueryEvent): void => void statements.push(event.query) };
    hub.db.subscribers.push(subscriber);
    let outcome;
    try {
      outcome = await expireDueCoupons({ db: hub.db, now: NOW, batchSize: 16, audit: auditAt(() => NOW), runId: 'portable' });
    } finally {
      hub.db.subscribers.splice(hub.db.subscribers.indexOf(subscriber), 1);
    }
    expect(outcome).toEqual({ expired: 50, coupons: new Map([['5', 30], [NO_COUPON_ID, 20]]), windows: 4 });
    expect(statements.filter((sql) => sql.includes('@'))).toEqual([]);
  });

  it('reports progress as the share of the id range\'s windows walked, a percentage the board draws', async () => {
    await insert({ count: 30, status: 'UNUSED', endsInMs: -SECOND });
    const { id } = await hub.enqueue(couponExpire, { batchSize: 10 });
    await (await hub.queues.get('marketing').getJob(id))?.waitUntilFinished(events, 20_000);
    expect((await hub.queues.get('marketing').getJob(id))?.progress).toEqual({ progress: 100, done: 3, total: 3 });
  });

  it('is exact when two runs race: every due code is changed and counted once', async () => {
    for (let coupon = 1; coupon <= 6; coupon += 1) await insert({ count: 500 + coupon, status: coupon % 2 ? 'UNUSED' : 'UNOPEN', endsInMs: -SECOND, couponId: String(coupon) });
    await insert({ count: 200, status: 'UNUSED', endsInMs: SECOND });
    const expected = { '1': 501, '2': 502, '3': 503, '4': 504, '5': 505, '6': 506 };
    const audit = auditAt(() => NOW);
    // Different window sizes, so the runs' windows overlap at every step, not only in lockstep.
    const outcomes = await Promise.all([
      expireDueCoupons({ db: hub.db, now: NOW, batchSize: 97, audit, runId: 'run-a' }),
      expireDueCoupons({ db: hub.db, now: NOW, batchSize: 160, audit, runId: 'run-b' }),
    ]);
    expect(outcomes[0].expired + outcomes[1].expired).toBe(3_021);
    const perCoupon: Record<string, number> = {};
    for (const o of outcomes) for (const [coupon, n] of o.coupons) perCoupon[coupon] = (perCoupon[coupon] ?? 0) + n;
    expect(perCoupon).toEqual(expected);
    expect((await audits()).counts).toEqual(expected);
    expect(await statuses()).toEqual({ TIME_OUT: 3_021, UNUSED: 200 });
  });

  it('two jobs at once through the queue sum to the due total', async () => {
    await insert({ count: 2_500, status: 'UNUSED', endsInMs: -SECOND, couponId: '1' });
    await insert({ count: 1_500, status: 'UNOPEN', endsInMs: -SECOND, couponId: '2' });
    const results = await Promise.all([run(100), run(100)]);
    expect(results[0].result.expired + results[1].result.expired).toBe(4_000);
    expect((await audits()).counts).toEqual({ '1': 2_500, '2': 1_500 });
  });

  it('stopped between windows and run again: the same final state as one clean run, audits adding up', async () => {
    await insert({ count: 700, status: 'UNUSED', endsInMs: -SECOND, couponId: '1' });
    await insert({ count: 300, status: 'UNOPEN', endsInMs: -SECOND, couponId: '2' });
    for (const status of ['USED', 'UNSEND'] as const) await insert({ count: 50, status, endsInMs: -SECOND, couponId: '3' });
    await insert({ count: 100, status: 'UNUSED', endsInMs: SECOND, couponId: '3' });
    const abort = new AbortController();
    let windows = 0;
    const stopped = expireDueCoupons({
      db: hub.db, now: NOW, batchSize: 100, signal: abort.signal, audit: auditAt(() => NOW), runId: 'stopped',
      onWindow: () => {
        windows += 1;
        if (windows === 3) abort.abort(new Error('shutdown'));
        return Promise.resolve();
      },
    });
    await expect(stopped).rejects.toThrow('shutdown');
    const partial = await statuses();
    expect(partial.TIME_OUT).toBeGreaterThan(0);
    expect(partial.TIME_OUT).toBeLessThan(1_000);

    const rerun = await run(100);
    expect(rerun.result.expired).toBe(1_000 - (partial.TIME_OUT ?? 0));
    expect(await statuses()).toEqual({ TIME_OUT: 1_000, USED: 50, UNSEND: 50, UNUSED: 100 });
    const [stray] = await hub.db.query<{ n: string }[]>("SELECT COUNT(*) AS n FROM discount_coupon_code WHERE discount_coupon_id = 3 AND updated_time <> ?", [CREATED]);
    expect(Number(stray?.n)).toBe(0);
    // The stopped run recorded what it committed before handing the failure on.
    const logged = await audits();
    expect(logged.counts).toEqual({ '1': 700, '2': 300 });
    expect(logged.runs).toHaveLength(2);
    expect(logged.runs).toContain('stopped');
  });
});
