import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { WechatPayEmulator } from '../../integrations/wechat-pay/emulator/wechat-pay.emulator';
import { closeRedis } from '../../lib/redis';
import { clearTables, openTestDataSource } from '../support/db';
import { refundDisagreements } from '../support/refund-consistency';
import { childEnv, testConfig } from '../support/env';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis';
import { spawnBuilt, type HubProcess } from '../support/processes';
import { track } from '../support/resources';
import { until } from '../support/wait';

jest.setTimeout(240_000);

const TABLES = [PaymentOrder, RefundOrder, PayNotifyLog, DmsBusinessLog];
const MCHID = '1900000901';
const APPID = 'wx00000000000000c9';
const TOKEN = 'chaos-token-0123456789abcdef';
const PAYMENTS = 500;
/** Two partial refunds a payment, together its whole amount: 1,000 refunds. */
const SHARES = [300, 700] as const;
const AMOUNT = SHARES[0] + SHARES[1];
/** Every other payment paid a fen more: its refunds leave it partly refunded, so it ends PAY_SUCCESS. */
const paidFen = (i: number): number => (i % 2 === 0 ? AMOUNT : AMOUNT + 1);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Refunds under fire: 1,000 in flight through the real web, worker processes (dist/) killed with
 * SIGKILL at random moments, their Redis (a private one) flushed once. MySQL is the record: the
 * sweepers and the deterministic out_refund_no must bring every refund to REFUNDED exactly once.
 */
describe('refunds survive killed workers and a flushed Redis', () => {
  let redis: PrivateRedis;
  let db: DataSource;
  let emulator: WechatPayEmulator;
  let emulatorStopped = false;
  const processes: HubProcess[] = [];
  let liveEnv: Record<string, string>;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    db = await openTestDataSource(testConfig());
    await clearTables(db, TABLES);
    emulator = await WechatPayEmulator.start({ callbackRetryDelaysMs: [200, 500, 1_000, 2_000, 4_000, 8_000], refundProcessingMs: 300 });
    track({ kind: 'closable', value: { isOpen: () => !emulatorStopped }, label: 'wechat-pay emulator' });
    emulator.addMerchant({ mchid: MCHID, appid: APPID, keyMode: 'public_key' });
    const files = emulator.writeMerchantFiles(MCHID, mkdtempSync(join(tmpdir(), 'jobhub-chaos-')));
    liveEnv = {
      REDIS_URL: redis.url,
      HUB_QUEUE_PREFIX: 'chaos',
      HUB_API_TOKENS: `chaos:${TOKEN}`,
      WECHAT_PAY_MODE: 'live',
      WECHAT_PAY_MCHID: MCHID,
      WECHAT_PAY_APPID: APPID,
      WECHAT_PAY_SERIAL_NO: files.serialNo,
      WECHAT_PAY_PRIVATE_KEY_FILE: files.privateKeyFile,
      WECHAT_PAY_API_V3_KEY: files.apiV3Key,
      WECHAT_PAY_PUBLIC_KEY_ID: files.publicKeyId,
      WECHAT_PAY_PUBLIC_KEY_FILE: files.publicKeyFile,
      WECHAT_PAY_BASE_URL: emulator.baseUrl,
      // A killed worker's jobs come back within seconds; lost ones are swept every 3 s.
      HUB_JOB_LOCK_MS: '2000',
      HUB_SWEEP_INTERVAL_MS: '3000',
    };
  });
  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(processes.map((p) => p.exited()));
    await emulator.stop();
    emulatorStopped = true;
    await clearTables(db, TABLES);
    await db.destroy();
    await redis.close();
  });

  const spawn = async (entry: string, ready: RegExp, env: Record<string, string> = {}): Promise<HubProcess> => {
    const p = spawnBuilt(entry, childEnv({ ...liveEnv, ...env }));
    processes.push(p);
    await p.waitFor(ready, 30_000);
    return p;
  };
  const startWorker = (): Promise<HubProcess> => spawn('workers/worker.main.js', /"msg":"workers started"/, { HUB_QUEUES: 'refunds,payments' });

  /** Paid payments, here and at the emulator, an hour ago. */
  async function seedPayments(): Promise<string[]> {
    const paidAt = new Date(Date.now() - 3_600_000);
    const numbers = Array.from({ length: PAYMENTS }, (_, i) => `CHAOS${String(i).padStart(6, '0')}`);
    await db.getRepository(PaymentOrder).insert(
      numbers.map((outTradeNo, i) => ({
        businessType: 'MALL' as const, mchid: MCHID, appid: APPID, outTradeNo, amount: paidFen(i), payerTotal: paidFen(i), payStatus: 'PAY_SUCCESS' as const,
        tradeState: 'SUCCESS', successTime: paidAt, refundedAmount: 0, createdTime: paidAt, updatedTime: paidAt, deleted: 0,
      })),
    );
    for (const [i, outTradeNo] of numbers.entries()) {
      emulator.createOrder({ mchid: MCHID, out_trade_no: outTradeNo, total: paidFen(i), created: paidAt });
      emulator.pay(outTradeNo, { at: paidAt, notify: false, mchid: MCHID });
    }
    return numbers;
  }

  it('brings every one of 1,000 refunds to REFUNDED exactly once', async () => {
    const numbers = await seedPayments();
    const web = await spawn('server/web.main.js', /"msg":"web listening"/);
    const port = Number(/"port":(\d+)[^\n]*"msg":"web listening"/.exec(web.stdout())?.[1]);
    emulator.setNotifyUrl(MCHID, `http://127.0.0.1:${port}/webhooks/wechat-pay/${MCHID}`);
    const workers = [await startWorker(), await startWorker()];

    // 1,000 refund requests over HTTP, 50 at a time, each with its own idempotency key.
    const requests = numbers.flatMap((outTradeNo) => SHARES.map((amount, i) => ({ outTradeNo, amount, key: `${outTradeNo}-${i}` })));
    const requesting = (async () => {
      for (let i = 0; i < requests.length; i += 50) {
        await Promise.all(
          requests.slice(i, i + 50).map(async (r) => {
            const res = await fetch(`http://127.0.0.1:${port}/api/v1/refunds`, {
              method: 'POST',
              headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': r.key },
              body: JSON.stringify({ outTradeNo: r.outTradeNo, amount: r.amount, reason: 'chaos' }),
            });
            // 503: Redis was away for the enqueue; the row exists and the sweeper takes it.
            if (![200, 201, 202, 503].includes(res.status)) throw new Error(`refund ${r.key}: ${res.status} ${await res.text()}`);
          }),
        );
      }
    })();

    // Four SIGKILLs at random moments, each worker replaced; Redis flushed once, after the second.
    const refunds = db.getRepository(RefundOrder);
    let refundedAtFlush = -1;
    for (let kill = 0; kill < 4; kill += 1) {
      await sleep(400 + Math.floor(Math.random() * 1_200));
      const victim = Math.floor(Math.random() * workers.length);
      workers[victim]?.child.kill('SIGKILL');
      await workers[victim]?.exited();
      workers[victim] = await startWorker();
      if (kill === 1) {
        refundedAtFlush = await refunds.countBy({ status: 'REFUNDED' });
        const flusher = new Redis(redis.url);
        await flusher.flushall();
        await closeRedis(flusher);
      }
    }
    await requesting;
    // The flush came with refunds in flight: what it took from Redis only MySQL still knew about.
    expect(refundedAtFlush).toBeGreaterThanOrEqual(0);
    expect(refundedAtFlush).toBeLessThan(requests.length);

    await until(
      'every refund REFUNDED',
      async () => (await refunds.countBy({ status: 'REFUNDED' })) === requests.length,
      150_000,
      500,
    ).catch(async (err: unknown) => {
      const byStatus = await db.query('SELECT status, wechat_status AS wechatStatus, COUNT(*) AS n FROM refund_order GROUP BY status, wechat_status');
      throw new Error(`${String(err)}: ${JSON.stringify(byStatus)}`);
    });

    // The emulator's ledger: 1,000 refunds, each number once, every payment refunded in full.
    const ledger = emulator.ledger(MCHID);
    expect(ledger.refunds).toBe(requests.length);
    expect(ledger.refundedFen).toBe(PAYMENTS * AMOUNT);
    expect([...ledger.byOrder.values()].every((fen) => fen === AMOUNT)).toBe(true);
    expect(ledger.byOrder.size).toBe(PAYMENTS);
    for (const r of requests.slice(0, 20)) expect(emulator.order(r.outTradeNo, MCHID)?.refunds.filter((x) => x.refund === r.amount)).toHaveLength(1);

    // Ours balances: every payment had its refunds once, none stuck; each status agrees with its
    // refunds and its last audit row (REFUNDED when whole, PAY_SUCCESS when partly refunded).
    const payments = await db.getRepository(PaymentOrder).find();
    expect(payments).toHaveLength(PAYMENTS);
    expect(payments.filter((p) => p.refundedAmount !== AMOUNT || p.payStatus !== (p.amount === AMOUNT ? 'REFUNDED' : 'PAY_SUCCESS'))).toEqual([]);
    expect(await refundDisagreements(db)).toEqual([]);
    expect(await refunds.countBy({ status: 'REFUNDING' })).toBe(0);
    expect(await refunds.count()).toBe(requests.length);
    // The sweepers did their part: jobs the flush took were added again from MySQL.
    expect(processes.some((p) => /"msg":"sweeper restored jobs lost from Redis"/.test(p.stdout()))).toBe(true);
  });
});
