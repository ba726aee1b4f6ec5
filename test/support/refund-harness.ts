import type { AddressInfo } from 'node:net';
import type { QueueEvents } from 'bullmq';
import Fastify, { type FastifyInstance } from 'fastify';
import { AndroidOrder } from '../../entities/app/android-order.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { EventOrder } from '../../entities/marketing/event-order.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';
import { PayNotifyLog } from '../../entities/marketing/pay-notify-log.entity';
import { PaymentOrder, type PaymentBusinessType } from '../../entities/marketing/payment-order.entity';
import { RefundOrder } from '../../entities/marketing/refund-order.entity';
import type { WechatPayEmulator } from '../../integrations/wechat-pay/emulator/wechat-pay.emulator';
import { JOBS } from '../../jobs';
import { buildRegistry } from '../../jobs/define-job';
import { refundSubmit } from '../../jobs/wechat-pay/refund-submit.job';
import { refundSync } from '../../jobs/wechat-pay/refund-sync.job';
import { auditAt } from '../../entities/dms/audit';
import { buildApp } from '../../server/app';
import { registerRefundRoutes } from '../../server/api/refunds.routes';
import { clearTables } from './db';
import { openTestHub, type TestHub } from './hub';
import { testQueueEvents } from './queues';
import { until } from './wait';
import { TEST_MCHID } from './wechat-pay';

/** The refund API's test token (client `crm`). */
export const REFUND_TOKEN = 'crm-token-0123456789abcdef';
const TOKEN = REFUND_TOKEN;
const TABLES = [RefundOrder, PayNotifyLog, PaymentOrder, EventOrder, GroupBuyEventOrder, AndroidOrder, DmsBusinessLog];
/** The hub's registry, with the refund jobs whether or not it lists them yet. */
export const refundRegistry = buildRegistry(JOBS.some((d) => d.name === refundSubmit.name) ? JOBS : [...JOBS, refundSubmit, refundSync]);
const registry = refundRegistry;

/** One hub, its webhook on a real port, the refund API, real workers; `options` sets the emulator. */
export function refundHarness(file: string, options: { refundProcessingMs?: number } = {}) {
  const h = {} as { hub: TestHub; app: FastifyInstance; api: FastifyInstance; events: QueueEvents; webhook: string };
  let seq = 0;
  beforeAll(async () => {
    h.hub = await openTestHub(file, { registry, wechatPay: { callbackRetryDelaysMs: [100, 200, 400], ...options } });
    h.app = await buildApp({ config: h.hub.config, log: h.hub.log, db: h.hub.db, redis: h.hub.redis, queues: h.hub.queues, registry, integrations: h.hub.integrations });
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    h.webhook = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}/webhooks/wechat-pay/${TEST_MCHID}`;
    emulator().setNotifyUrl(TEST_MCHID, h.webhook);
    h.api = Fastify();
    registerRefundRoutes(h.api, { db: h.hub.db, queues: h.hub.queues, apiTokens: [{ client: 'crm', token: TOKEN }], log: h.hub.log, now: () => new Date() });
    await h.api.ready();
    h.events = await testQueueEvents('refunds', h.hub.prefix);
    h.hub.startWorkers(['refunds', 'payments']);
  });
  afterAll(async () => {
    await emulator().callbacksSettled();
    await h.events.close();
    await h.api.close();
    await h.app.close();
    await clearTables(h.hub.db, TABLES);
    await h.hub.close();
  });
  beforeEach(() => clearTables(h.hub.db, TABLES));

  function emulator(): WechatPayEmulator {
    if (!h.hub.wechatPay) throw new Error('no emulator');
    return h.hub.wechatPay.emulator;
  }
  const newNo = (prefix: string): string => `${prefix}${Date.now()}${++seq}`;
  const deps = (now = () => new Date()) => ({ db: h.hub.db, log: h.hub.log, now, audit: auditAt(now), enqueue: h.hub.enqueue, config: h.hub.config });

  /** A payment paid at the emulator and recorded PAY_SUCCESS here, with its event (or group-buy) order. */
  async function paidPayment(amount: number, o: { business?: PaymentBusinessType; paidAt?: Date } = {}): Promise<PaymentOrder> {
    const outTradeNo = newNo('P');
    const business = o.business ?? 'EVENT';
    const at = o.paidAt ?? new Date();
    let transactionId: string | null = null;
    if (!o.paidAt) {
      emulator().createOrder({ mchid: TEST_MCHID, out_trade_no: outTradeNo, total: amount });
      transactionId = emulator().pay(outTradeNo, { notify: false }).transaction_id ?? null;
    }
    const repo = h.hub.db.getRepository(PaymentOrder);
    await repo.insert({ businessType: business, mchid: TEST_MCHID, outTradeNo, amount, payerTotal: amount, transactionId, payStatus: 'PAY_SUCCESS', tradeState: 'SUCCESS', successTime: at, createdTime: at, updatedTime: at });
    const payment = await repo.findOneByOrFail({ outTradeNo });
    const order = { paymentOrderId: payment.id, pamentStatus: 'PAY_SUCCESS' as const, status: 'JOINED' as const, createdTime: at, updatedTime: at };
    if (business === 'GROUP_BUY') await h.hub.db.getRepository(GroupBuyEventOrder).insert(order);
    else await h.hub.db.getRepository(EventOrder).insert(order);
    return payment;
  }
  const post = (body: Record<string, unknown>, key: string) =>
    h.api.inject({ method: 'POST', url: '/api/v1/refunds', headers: { authorization: `Bearer ${TOKEN}`, 'idempotency-key': key }, payload: body });
  const refund = (outRefundNo: string) => h.hub.db.getRepository(RefundOrder).findOneByOrFail({ outRefundNo });
  const payment = (id: string) => h.hub.db.getRepository(PaymentOrder).findOneByOrFail({ id });
  const audits = (businessNo: string, source: number) => h.hub.db.getRepository(DmsBusinessLog).findBy({ businessNo, businessSource: source });
  async function ended(outRefundNo: string, status: RefundOrder['status'] = 'REFUNDED', timeoutMs = 20_000): Promise<RefundOrder> {
    await until(`refund ${outRefundNo} ${status}`, async () => (await refund(outRefundNo)).status === status, timeoutMs);
    return refund(outRefundNo);
  }
  async function jobFinished(jobId: string): Promise<unknown> {
    const job = await h.hub.queues.get('refunds').getJob(jobId);
    if (!job) throw new Error(`no job ${jobId}`);
    return job.waitUntilFinished(h.events, 30_000);
  }
  /** Every REFUND.* callback of the refund stored and handled. */
  async function callbacksHandled(outRefundNo: string): Promise<PayNotifyLog[]> {
    await emulator().callbacksSettled();
    const rows = () => h.hub.db.getRepository(PayNotifyLog).findBy({ outRefundNo });
    await until(`callbacks of ${outRefundNo} handled`, async () => (await rows()).length > 0 && (await rows()).every((r) => r.handled === 1), 15_000);
    return rows();
  }
  const alerts = (kind: string): Record<string, unknown>[] =>
    h.hub
      .logText()
      .split('\n')
      .filter((l) => l.includes(`"alert":"${kind}"`))
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  return { h, emulator, newNo, deps, paidPayment, post, refund, payment, audits, ended, jobFinished, callbacksHandled, alerts };
}
