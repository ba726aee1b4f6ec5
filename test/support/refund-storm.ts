import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import { PaymentOrder } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import { WechatPayEmulator } from '../../integrations/wechat-pay/emulator/wechat-pay.emulator';
import { clearTables, openTestDataSource } from './db';
import { childEnv, testConfig } from './env';
import { spawnBuilt, type HubProcess } from './processes';
import { REFUND_TOKEN } from './refund-harness';
import { refundDisagreements } from './refund-consistency';
import { track } from './resources';
import { until } from './wait';

const TABLES = [PaymentOrder, RefundOrder, PayNotifyLog, DmsBusinessLog];
const MCHID = '1900000901';
const APPID = 'wx00000000000000c9';
/** Two partial refunds a payment, together its whole amount. */
const SHARES = [300, 700] as const;
const AMOUNT = SHARES[0] + SHARES[1];
/** Every other payment paid a fen more: its refunds leave it partly refunded, so it ends PAY_SUCCESS. */
const paidFen = (i: number): number => (i % 2 === 0 ? AMOUNT : AMOUNT + 1);
/** Requests in flight at once, as a busy caller sends them. */
const BATCH = 50;

export interface StormRequest {
  readonly outTradeNo: string;
  readonly amount: number;
  readonly key: string;
}

export interface RefundStorm {
  readonly db: DataSource;
  readonly emulator: WechatPayEmulator;
  readonly requests: readonly StormRequest[];
  /** Every process started, replaced ones included. */
  readonly processes: readonly HubProcess[];
  /** Paid payments, here and at the emulator, an hour ago: two refunds each. */
  seed(): Promise<void>;
  /** The web process (API and webhook); the emulator's callbacks go to it. */
  startWeb(): Promise<{ web: HubProcess; port: number }>;
  /** A worker process on the refunds and payments queues. */
  startWorker(): Promise<HubProcess>;
  /** Every refund requested over HTTP, BATCH at a time; resolves with how many were answered 503. */
  send(port: number): Promise<number>;
  refunded(): Promise<number>;
  /** Waits for every refund REFUNDED; a timeout names the statuses left. */
  allRefunded(timeoutMs: number): Promise<void>;
  /** Exactly once, at WeChat and here: one line per breach, none when it held. */
  exactlyOnceProblems(): Promise<string[]>;
  /** Jobs the sweepers added again from MySQL, summed over every process's log. */
  restoredBySweepers(): number;
  /** Kills what still runs, stops the emulator, clears the tables. */
  close(): Promise<void>;
}

/**
 * Refunds through built web and worker processes (dist/) with WeChat Pay live against the emulator,
 * for scenarios that break something under them. `env` says where Redis is.
 */
export async function openRefundStorm(options: { refunds: number; env: Record<string, string> }): Promise<RefundStorm> {
  const payments = Math.ceil(options.refunds / SHARES.length);
  const db = await openTestDataSource(testConfig());
  await clearTables(db, TABLES);
  const emulator = await WechatPayEmulator.start({ callbackRetryDelaysMs: [200, 500, 1_000, 2_000, 4_000, 8_000], refundProcessingMs: 300 });
  let emulatorStopped = false;
  track({ kind: 'closable', value: { isOpen: () => !emulatorStopped }, label: 'wechat-pay emulator' });
  emulator.addMerchant({ mchid: MCHID, appid: APPID, keyMode: 'public_key' });
  const keyDir = mkdtempSync(join(tmpdir(), 'jobhub-refund-storm-'));
  const files = emulator.writeMerchantFiles(MCHID, keyDir);
  const env: Record<string, string> = {
    HUB_QUEUE_PREFIX: 'chaos',
    HUB_API_TOKENS: `crm:${REFUND_TOKEN}`,
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
    ...options.env,
  };
  const numbers = Array.from({ length: payments }, (_, i) => `CHAOS${String(i).padStart(6, '0')}`);
  const requests = numbers.flatMap((outTradeNo) => SHARES.map((amount, i) => ({ outTradeNo, amount, key: `${outTradeNo}-${i}` })));
  const processes: HubProcess[] = [];
  const refunds = db.getRepository(RefundOrder);

  const spawn = async (entry: string, ready: RegExp, extra: Record<string, string> = {}): Promise<HubProcess> => {
    const p = spawnBuilt(entry, childEnv({ ...env, ...extra }));
    processes.push(p);
    await p.waitFor(ready, 30_000);
    return p;
  };

  return {
    db,
    emulator,
    requests,
    processes,
    async seed() {
      const paidAt = new Date(Date.now() - 3_600_000);
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
    },
    async startWeb() {
      const web = await spawn('server/web.main.js', /"msg":"web listening"/);
      const port = Number(/"port":(\d+)[^\n]*"msg":"web listening"/.exec(web.stdout())?.[1]);
      emulator.setNotifyUrl(MCHID, `http://127.0.0.1:${port}/webhooks/wechat-pay/${MCHID}`);
      return { web, port };
    },
    startWorker: () => spawn('workers/worker.main.js', /"msg":"workers started"/, { HUB_QUEUES: 'refunds,payments' }),
    async send(port) {
      let unavailable = 0;
      for (let i = 0; i < requests.length; i += BATCH) {
        await Promise.all(
          requests.slice(i, i + BATCH).map(async (r) => {
            const res = await fetch(`http://127.0.0.1:${port}/api/v1/refunds`, {
              method: 'POST',
              headers: { authorization: `Bearer ${REFUND_TOKEN}`, 'content-type': 'application/json', 'idempotency-key': r.key },
              body: JSON.stringify({ outTradeNo: r.outTradeNo, amount: r.amount, reason: 'chaos' }),
            });
            // 503: Redis was away for the enqueue; the row exists and the sweeper takes it.
            if (res.status === 503) unavailable += 1;
            else if (![200, 201, 202].includes(res.status)) throw new Error(`refund ${r.key}: ${res.status} ${await res.text()}`);
            await res.arrayBuffer().catch(() => undefined);
          }),
        );
      }
      return unavailable;
    },
    refunded: () => refunds.countBy({ status: 'REFUNDED' }),
    async allRefunded(timeoutMs) {
      await until('every refund REFUNDED', async () => (await refunds.countBy({ status: 'REFUNDED' })) === requests.length, timeoutMs, 200).catch(async (err: unknown) => {
        const byStatus = await db.query('SELECT status, wechat_status AS wechatStatus, COUNT(*) AS n FROM refund_order GROUP BY status, wechat_status');
        throw new Error(`${String(err)}: ${JSON.stringify(byStatus)}`);
      });
    },
    async exactlyOnceProblems() {
      const problems: string[] = [];
      // WeChat's ledger: every refund once, every payment refunded in full, nothing more.
      const ledger = emulator.ledger(MCHID);
      if (ledger.refunds !== requests.length) problems.push(`the emulator made ${ledger.refunds} refunds, not ${requests.length}`);
      if (ledger.refundedFen !== payments * AMOUNT) problems.push(`the emulator refunded ${ledger.refundedFen} fen, not ${payments * AMOUNT}`);
      if (ledger.byOrder.size !== payments) problems.push(`the emulator refunded ${ledger.byOrder.size} payments, not ${payments}`);
      for (const [outTradeNo, fen] of ledger.byOrder) if (fen !== AMOUNT) problems.push(`the emulator refunded ${outTradeNo} ${fen} fen, not ${AMOUNT}`);
      for (const r of requests) {
        const made = emulator.order(r.outTradeNo, MCHID)?.refunds.filter((x) => x.refund === r.amount).length ?? 0;
        if (made !== 1) problems.push(`${r.key}: refunded ${made} times at the emulator`);
      }
      // Ours: every payment had its refunds once, none stuck; each status agrees with its refunds
      // and its last audit row (REFUNDED when whole, PAY_SUCCESS when partly refunded).
      const rows = await db.getRepository(PaymentOrder).find();
      if (rows.length !== payments) problems.push(`${rows.length} payments, not ${payments}`);
      for (const p of rows) {
        const status = p.amount === AMOUNT ? 'REFUNDED' : 'PAY_SUCCESS';
        if (p.refundedAmount !== AMOUNT || p.payStatus !== status) problems.push(`${p.outTradeNo}: ${p.payStatus} with ${p.refundedAmount} fen refunded, not ${status} with ${AMOUNT}`);
      }
      problems.push(...(await refundDisagreements(db)));
      const refunding = await refunds.countBy({ status: 'REFUNDING' });
      if (refunding > 0) problems.push(`${refunding} refunds stuck REFUNDING`);
      const rowCount = await refunds.count();
      if (rowCount !== requests.length) problems.push(`${rowCount} refund rows, not ${requests.length}`);
      return problems;
    },
    restoredBySweepers: () =>
      processes
        .flatMap((p) => p.stdout().split('\n'))
        .filter((line) => line.includes('"msg":"sweeper restored jobs lost from Redis"'))
        .reduce((sum, line) => sum + Number(/"restored":(\d+)/.exec(line)?.[1] ?? 0), 0),
    async close() {
      for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await Promise.all(processes.map((p) => p.exited()));
      await emulator.stop();
      emulatorStopped = true;
      rmSync(keyDir, { recursive: true, force: true });
      await clearTables(db, TABLES);
      await db.destroy();
    },
  };
}
