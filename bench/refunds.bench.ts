import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { applyBusinessSchema } from '../entities/schema/apply-business-schema';
import { createDataSource } from '../entities/data-source';
import { PaymentOrder } from '../entities/marketing/payment-order.entity';
import { RefundOrder } from '../entities/marketing/refund-order.entity';
import { migrate } from '../entities/schema/migrate';
import { withServerConnection } from '../entities/schema/mysql-server';
import { NO_INTEGRATIONS, type Integrations } from '../integrations';
import type { MerchantCredentials, WechatPayClient } from '../integrations/wechat-pay/wechat-pay.client';
import { WechatPayEmulator } from '../integrations/wechat-pay/emulator/wechat-pay.emulator';
import { LiveWechatPayClient } from '../integrations/wechat-pay/wechat-pay.live';
import { createMerchants } from '../integrations/wechat-pay/wechat-pay.merchants';
import { DEFAULT_JOB_SCOPE, type Config } from '../lib/config';
import { createLogger } from '../lib/logger';
import { withDatabase } from './bench-database';
import { rateOf, startBenchHub } from './bench-hub';
import type { BenchRow } from './table';

const REFUNDS = 10_000;
/** Requests in flight at once, for the bare calls and the API alike. */
const CONCURRENCY = 50;
const MCHID = '1900000001';
const APPID = 'wxd678efh567hg6787';
const TOKEN = 'bench-token-0123456789abcdef';
const AMOUNT = 1_000;
const DATABASE = 'jobhub_bench_refunds';

/** Orders paid at the emulator (and, with `db`, in payment_order) an hour ago. */
async function paidOrders(emulator: WechatPayEmulator, prefix: string, db?: DataSource): Promise<string[]> {
  const paidAt = new Date(Date.now() - 3_600_000);
  const numbers = Array.from({ length: REFUNDS }, (_, i) => `${prefix}${String(i).padStart(8, '0')}`);
  for (const no of numbers) {
    emulator.createOrder({ mchid: MCHID, out_trade_no: no, total: AMOUNT, created: paidAt });
    emulator.pay(no, { at: paidAt, notify: false });
  }
  if (db) {
    const rows = numbers.map((outTradeNo) => ({
      businessType: 'MALL' as const, mchid: MCHID, appid: APPID, outTradeNo, amount: AMOUNT, payerTotal: AMOUNT, payStatus: 'PAY_SUCCESS' as const,
      tradeState: 'SUCCESS', successTime: paidAt, refundedAmount: 0, createdTime: paidAt, updatedTime: paidAt, deleted: 0,
    }));
    for (let i = 0; i < rows.length; i += 2_000) await db.getRepository(PaymentOrder).insert(rows.slice(i, i + 2_000));
  }
  return numbers;
}

/** Where the baseline's callbacks go: answered 204 at once, as a merchant that does nothing with them. */
async function callbackSink(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

/**
 * 10,000 refunds end to end — `POST /api/v1/refunds`, the refund-submit job, WeChat (the emulator,
 * answering SUCCESS at once and calling back), the callback through the webhook and its job — until
 * every refund_order is REFUNDED; against 10,000 bare refund calls to the same emulator.
 */
export async function benchRefunds(base: Config): Promise<BenchRow> {
  const config: Config = { ...withDatabase(base, DATABASE), apiTokens: [{ client: 'bench', token: TOKEN, scope: DEFAULT_JOB_SCOPE }] };
  const quiet = createLogger({ level: 'warn' });
  await withServerConnection(config.mysql, (conn) => conn.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``));
  await applyBusinessSchema(config, quiet);
  await migrate(config, quiet);
  const log = createLogger({ level: 'info', destination: pino.destination({ dest: join(mkdtempSync(join(tmpdir(), 'jobhub-bench-')), 'refunds.log'), sync: false }) });
  const emulator = await WechatPayEmulator.start({ callbackRetryDelaysMs: [200, 500, 1_000, 2_000, 5_000] });
  const db = await createDataSource(config);
  try {
    const credentials = emulator.addMerchant({ mchid: MCHID, appid: APPID, keyMode: 'public_key' });
    const makeClient = (c: MerchantCredentials): WechatPayClient => new LiveWechatPayClient(c, { baseUrl: emulator.baseUrl, timeoutMs: 30_000, log });
    const client = makeClient(credentials);
    const integrations: Integrations = { ...NO_INTEGRATIONS, wechatPay: createMerchants({ defaultClient: client, db, makeClient, log }) };

    // The baseline: the same client calling the emulator directly, the callbacks it sends answered at once.
    const sink = await callbackSink();
    emulator.setNotifyUrl(MCHID, sink.url);
    const bareOrders = await paidOrders(emulator, 'BARE');
    const bare = await rateOf(REFUNDS, CONCURRENCY, async (i) => {
      const outTradeNo = bareOrders[i] as string;
      await client.createRefund({ out_trade_no: outTradeNo, out_refund_no: `BR${outTradeNo}`, amount: { refund: AMOUNT, total: AMOUNT, currency: 'CNY' } });
    });
    await emulator.callbacksSettled();
    await new Promise((resolve) => sink.server.close(resolve));

    const hub = await startBenchHub('refunds', config, db, integrations, log, ['refunds', 'payments']);
    emulator.setNotifyUrl(MCHID, `http://127.0.0.1:${hub.port}/webhooks/wechat-pay/${MCHID}`);

    const orders = await paidOrders(emulator, 'HUB', db);
    const refunds = db.getRepository(RefundOrder);
    const started = performance.now();
    await rateOf(REFUNDS, CONCURRENCY, async (i) => {
      const res = await fetch(`http://127.0.0.1:${hub.port}/api/v1/refunds`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', 'idempotency-key': `bench-${i}` },
        body: JSON.stringify({ outTradeNo: orders[i], amount: AMOUNT }),
      });
      if (res.status !== 202) throw new Error(`refund ${i}: ${res.status} ${await res.text()}`);
    });
    while ((await refunds.countBy({ status: 'REFUNDED' })) < REFUNDS) await new Promise((resolve) => setTimeout(resolve, 100));
    const oursMs = performance.now() - started;
    await hub.stop();

    const ledger = emulator.ledger(MCHID);
    if (ledger.refunds !== 2 * REFUNDS) throw new Error(`the emulator refunded ${ledger.refunds} times, expected ${2 * REFUNDS}`);
    const balanced = await db.getRepository(PaymentOrder).countBy({ payStatus: 'REFUNDED', refundedAmount: AMOUNT });
    if (balanced !== REFUNDS) throw new Error(`${balanced} of ${REFUNDS} payments refunded in full`);
    const ours = (REFUNDS / oursMs) * 1_000;
    return {
      scenario: `10,000 refunds end to end (API → submit → WeChat → callback → REFUNDED), ${CONCURRENCY} requests at once`,
      unit: 'refunds/s',
      baseline: { label: 'bare refund calls to the emulator', value: bare.perS },
      ours: { label: 'through the hub', value: ours },
      notes: `bare calls ${(bare.ms / 1_000).toFixed(1)} s, end to end ${(oursMs / 1_000).toFixed(1)} s; every refund once in the emulator's ledger, every payment refunded in full`,
    };
  } finally {
    await db.destroy();
    await emulator.stop();
    await withServerConnection(config.mysql, (conn) => conn.query(`DROP DATABASE IF EXISTS \`${DATABASE}\``));
  }
}
