import { generateKeyPairSync, randomBytes, sign, verify, X509Certificate } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { yuanToFen } from '../../lib/money';
import { PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';
import { parseBeijing } from '../../lib/time';
import type { BillTicket, MerchantCredentials, SignedHeaders } from '../../integrations/wechat-pay/wechat-pay.client';
import { WechatPayEmulator } from '../../integrations/wechat-pay/emulator/wechat-pay.emulator';
import { BillHashMismatchError, OrderPaidError, ResponseVerificationError, StatementNotReadyError } from '../../integrations/wechat-pay/wechat-pay.errors';
import { LiveWechatPayClient } from '../../integrations/wechat-pay/wechat-pay.live';

/** The live client against the emulator: every call real HTTP, every signature checked by both sides. */

const NOW = parseBeijing('2026-03-10 12:00');
let clockMs = NOW.getTime();
let emu: WechatPayEmulator;
let creds: MerchantCredentials;
let client: LiveWechatPayClient;
let seq = 0;
const no = (p: string): string => `${p}${Date.now()}${(seq += 1)}`;
const clientFor = (c: MerchantCredentials, timeoutMs = 5_000): LiveWechatPayClient => new LiveWechatPayClient(c, { baseUrl: emu.baseUrl, timeoutMs });

beforeAll(async () => {
  emu = await WechatPayEmulator.start({ now: () => new Date(clockMs), callbackRetryDelaysMs: [100, 100, 100], callbackTimeoutMs: 500 });
  creds = emu.addMerchant({ mchid: '1900000101', appid: 'wx00000000000000a1' });
  client = clientFor(creds);
});
afterAll(async () => {
  await emu.stop();
  await stopReceiver();
});
afterEach(() => {
  clockMs = NOW.getTime();
});

async function read(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A raw request signed here with node:crypto, to probe the emulator's own checks. */
async function raw(
  method: 'GET' | 'POST',
  pathQuery: string,
  o: { body?: string; c?: MerchantCredentials; key?: Parameters<typeof sign>[2]; skew?: number; headerMchid?: string; tamper?: boolean } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  const c = o.c ?? creds;
  const body = o.body ?? '';
  const ts = String(Math.floor(Date.now() / 1000) + (o.skew ?? 0));
  const nonce = randomBytes(16).toString('hex');
  const signature = sign('sha256', Buffer.from(`${method}\n${pathQuery}\n${ts}\n${nonce}\n${body}\n`), o.key ?? c.privateKey).toString('base64');
  // Parameters deliberately in the Java sample's order, not the Go SDK's.
  const auth = `WECHATPAY2-SHA256-RSA2048 signature="${signature}",timestamp="${ts}",mchid="${o.headerMchid ?? c.mchid}",serial_no="${c.serialNo}",nonce_str="${nonce}"`;
  const sent = o.tamper ? `${body} ` : body;
  return new Promise((resolve, reject) => {
    const req = request(`${emu.baseUrl}${pathQuery}`, { method, headers: { Authorization: auth, 'Content-Type': 'application/json' } }, (res) => {
      void read(res).then((b) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }), reject);
    });
    req.on('error', reject);
    req.end(sent);
  });
}

/** Verifies WeChat's answer signature independently of the client. */
function signedBy(c: MerchantCredentials, headers: IncomingHttpHeaders, body: Buffer): boolean {
  const h = headers as Record<string, string | undefined>;
  const key = c.platformKeys.get(h['wechatpay-serial'] ?? '');
  if (!key || !h['request-id']) return false;
  const message = Buffer.concat([Buffer.from(`${h['wechatpay-timestamp']}\n${h['wechatpay-nonce']}\n`), body, Buffer.from('\n')]);
  return verify('sha256', message, key, Buffer.from(h['wechatpay-signature'] ?? '', 'base64'));
}

describe('order query and close', () => {
  it('answers NOTPAY without payment fields, then SUCCESS, then REFUND; unknown orders are null', async () => {
    const otn = no('Q');
    emu.createOrder({ mchid: creds.mchid, out_trade_no: otn, total: 1999 });
    const unpaid = await client.queryOrder(otn);
    expect(unpaid).toMatchObject({ out_trade_no: otn, trade_state: 'NOTPAY', amount: { total: 1999 } });
    expect(unpaid?.transaction_id).toBeUndefined();
    expect(unpaid?.payer).toBeUndefined();
    expect(unpaid?.success_time).toBeUndefined();

    emu.pay(otn, { at: parseBeijing('2026-03-09 08:30:00'), notify: false });
    const paid = await client.queryOrder(otn);
    expect(paid).toMatchObject({ trade_state: 'SUCCESS', success_time: '2026-03-09T08:30:00+08:00', amount: { total: 1999, payer_total: 1999, currency: 'CNY', payer_currency: 'CNY' } });
    expect(paid?.transaction_id).toMatch(/^4200\d{24}$/);
    expect(paid?.payer?.openid).toBeTruthy();

    emu.recordRefund({ out_trade_no: otn, out_refund_no: `${otn}R`, refund: 500 });
    expect((await client.queryOrder(otn))?.trade_state).toBe('REFUND');
    expect(await client.queryOrder(no('NONE'))).toBeNull();
  });

  it('closes an unpaid order, closes it again, and refuses to close a paid one', async () => {
    const otn = no('C');
    emu.createOrder({ mchid: creds.mchid, out_trade_no: otn, total: 100 });
    await client.closeOrder(otn);
    expect(emu.order(otn)?.trade_state).toBe('CLOSED');
    await client.closeOrder(otn);
    expect((await client.queryOrder(otn))?.trade_state).toBe('CLOSED');
    const paid = no('C');
    emu.createOrder({ mchid: creds.mchid, out_trade_no: paid, total: 100 });
    emu.pay(paid, { notify: false });
    await expect(client.closeOrder(paid)).rejects.toBeInstanceOf(OrderPaidError);
    expect(emu.order(paid)?.trade_state).toBe('SUCCESS');
  });
});

describe('request authentication (emulator side)', () => {
  it('accepts parameters in any order and signs its answers, 204 over the empty body', async () => {
    const otn = no('A');
    emu.createOrder({ mchid: creds.mchid, out_trade_no: otn, total: 100 });
    const got = await raw('GET', `/v3/pay/transactions/out-trade-no/${otn}?mchid=${creds.mchid}`);
    expect(got.status).toBe(200);
    expect(signedBy(creds, got.headers, got.body)).toBe(true);
    const closed = await raw('POST', `/v3/pay/transactions/out-trade-no/${otn}/close`, { body: JSON.stringify({ mchid: creds.mchid }) });
    expect(closed.status).toBe(204);
    expect(closed.body.length).toBe(0);
    expect(signedBy(creds, closed.headers, closed.body)).toBe(true);
  });

  it('answers 401 SIGN_ERROR to a wrong key, a stale timestamp, a tampered body and a foreign mchid', async () => {
    const other = emu.addMerchant({ mchid: '1900000102', appid: 'wx00000000000000a2' });
    const path = `/v3/pay/transactions/out-trade-no/X1?mchid=${creds.mchid}`;
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const bad = [
      await raw('GET', path, { key: stranger }),
      await raw('GET', path, { skew: -301 }),
      await raw('POST', '/v3/pay/transactions/out-trade-no/X1/close', { body: JSON.stringify({ mchid: creds.mchid }), tamper: true }),
      await raw('GET', path, { c: other }),
      await raw('POST', '/v3/pay/transactions/out-trade-no/X1/close', { c: other, body: JSON.stringify({ mchid: creds.mchid }) }),
    ];
    for (const r of bad) {
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body.toString()).code).toBe('SIGN_ERROR');
      expect(String(r.headers['request-id'])).toMatch(/-268443699$/);
    }
    expect((await raw('GET', path, { skew: 299 })).status).toBe(404);
    const err = await clientFor({ ...creds, privateKey: stranger }).queryOrder('X1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as PermanentError).code).toBe('SIGN_ERROR');
  });
});

describe('trade bills', () => {
  const D = '2026-03-08';

  /** Two payments and a refund on D (one of them refunding a payment of the day before). */
  function seedBills(mchid: string): { pay: number; refund: number } {
    const a = no('B');
    const b = no('B');
    const old = no('B');
    for (const [otn, total] of [[a, 12_345], [b, 1], [old, 50_000]] as const) emu.createOrder({ mchid, out_trade_no: otn, total, description: 'Tea, "green" `x`' });
    emu.pay(a, { mchid, at: parseBeijing(`${D} 09:00:01`), notify: false });
    emu.pay(b, { mchid, at: parseBeijing(`${D} 23:59:59`), notify: false });
    emu.pay(old, { mchid, at: parseBeijing('2026-03-07 23:00:00'), notify: false });
    emu.recordRefund({ mchid, out_trade_no: old, out_refund_no: `${old}R`, refund: 20_000, at: parseBeijing(`${D} 00:00:00`) });
    return { pay: 12_346, refund: 20_000 };
  }

  function parseBill(buf: Buffer): { header: string[]; rows: string[][]; summary: string[] } {
    expect([...buf.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = buf.toString('utf8').slice(1);
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.split('\r\n').join('')).not.toMatch(/[\r\n]/);
    const lines = text.split('\r\n');
    const rows = lines.slice(1, -3);
    for (const r of rows) expect(r.startsWith('`')).toBe(true);
    return { header: (lines[0] ?? '').split(','), rows: rows.map((r) => r.slice(1).split(',`')), summary: (lines[lines.length - 2] ?? '').slice(1).split(',`') };
  }

  async function fetchBill(c: LiveWechatPayClient, date: string, gzip: boolean): Promise<{ ticket: BillTicket; buf: Buffer }> {
    const app = await c.applyTradeBill(date, { gzip });
    if (app.kind !== 'ticket') throw new Error('no ticket');
    return { ticket: app.ticket, buf: await read(await c.downloadBill(app.ticket)) };
  }

  it('downloads gzip and plain 27-column bills whose summary equals the sum of their rows', async () => {
    const expected = seedBills(creds.mchid);
    for (const gzip of [true, false]) {
      const { ticket, buf } = await fetchBill(client, D, gzip);
      expect(ticket.download_url).toContain(gzip ? '&tartype=gzip' : 'token=');
      const { header, rows, summary } = parseBill(buf);
      expect(header).toHaveLength(27);
      expect(rows).toHaveLength(3);
      for (const r of rows) expect(r).toHaveLength(27);
      const sum = (name: string): number => rows.reduce((s, r) => s + yuanToFen(r[header.indexOf(name)] ?? ''), 0);
      expect(sum('应结订单金额')).toBe(expected.pay);
      expect(sum('退款金额')).toBe(expected.refund);
      expect(rows.map((r) => r[header.indexOf('交易状态')]).sort()).toEqual(['REFUND', 'SUCCESS', 'SUCCESS']);
      expect(rows.every((r) => r[header.indexOf('商品名称')] === 'Tea, "green" `x`')).toBe(true);
      expect(summary[0]).toBe('3.0');
      expect(yuanToFen(summary[1] ?? '')).toBe(sum('应结订单金额'));
      expect(yuanToFen(summary[2] ?? '')).toBe(sum('退款金额'));
      expect(yuanToFen(summary[5] ?? '')).toBe(sum('订单金额'));
      expect(yuanToFen(summary[6] ?? '')).toBe(sum('申请退款金额'));
    }
  });

  it('writes 24 columns for a merchant without the three extra ones', async () => {
    const c24 = emu.addMerchant({ mchid: '1900000124', appid: 'wx00000000000000b1', billColumns: 24 });
    seedBills(c24.mchid);
    const { header, rows, summary } = parseBill((await fetchBill(clientFor(c24), D, true)).buf);
    expect(header).toHaveLength(24);
    for (const r of rows) expect(r).toHaveLength(24);
    expect(summary).toHaveLength(5);
  });

  it('tells an empty day, a bill being created and a date out of range apart', async () => {
    expect(await client.applyTradeBill('2026-03-01')).toEqual({ kind: 'no-statement' });
    const today = '2026-03-10';
    emu.createOrder({ mchid: creds.mchid, out_trade_no: no('T'), total: 100 });
    await expect(client.applyTradeBill(today)).rejects.toBeInstanceOf(StatementNotReadyError);
    // Yesterday's bill is ready from 10:00 Beijing.
    clockMs = parseBeijing('2026-03-09 09:59:59').getTime();
    await expect(client.applyTradeBill('2026-03-08')).rejects.toBeInstanceOf(StatementNotReadyError);
    emu.setBillState(creds.mchid, '2026-03-08', 'ready');
    expect((await client.applyTradeBill('2026-03-08')).kind).toBe('ticket');
    emu.setBillState(creds.mchid, '2026-03-01', 'creating');
    await expect(client.applyTradeBill('2026-03-01')).rejects.toBeInstanceOf(StatementNotReadyError);
    const old = await client.applyTradeBill('2025-12-01').catch((e: unknown) => e);
    expect(old).toBeInstanceOf(PermanentError);
    expect((old as PermanentError).code).toBe('INVALID_REQUEST');
  });

  it('refuses a used or expired download link', async () => {
    seedBills(creds.mchid);
    const { ticket } = await fetchBill(client, D, true);
    const again = await client.downloadBill(ticket).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(PermanentError);
    expect((again as PermanentError).code).toBe('INVALID_REQUEST');
    const app = await client.applyTradeBill(D, { gzip: true });
    if (app.kind !== 'ticket') throw new Error('no ticket');
    clockMs += 5 * 60_000 + 1_000;
    await expect(client.downloadBill(app.ticket)).rejects.toBeInstanceOf(PermanentError);
    const rawDownload = await raw('GET', new URL(app.ticket.download_url).pathname + new URL(app.ticket.download_url).search);
    expect(JSON.parse(rawDownload.body.toString())).toEqual({ code: 'INVALID_REQUEST', message: '下载链接过期,请重新请求文件下载' });
  });

  it('ends a truncated download with BillHashMismatchError', async () => {
    seedBills(creds.mchid);
    for (const gzip of [true, false]) {
      const app = await client.applyTradeBill(D, { gzip });
      if (app.kind !== 'ticket') throw new Error('no ticket');
      emu.inject({ kind: 'truncate-bill' }, { route: 'download' });
      await expect(read(await client.downloadBill(app.ticket))).rejects.toBeInstanceOf(BillHashMismatchError);
    }
  });
});

describe('injected faults', () => {
  it('maps 500, an HTML 502, 429, a timeout and a bad signature to the hub errors', async () => {
    const otn = no('F');
    emu.createOrder({ mchid: creds.mchid, out_trade_no: otn, total: 100 });
    // A short timeout only where the emulator is told to be slow: elsewhere a loaded machine must not look like one.
    const failing = async (timeoutMs = 10_000): Promise<unknown> => clientFor(creds, timeoutMs).queryOrder(otn).catch((e: unknown) => e);
    emu.inject({ kind: 'http', status: 500 }, { route: 'query' });
    const e500 = await failing();
    expect(e500).toBeInstanceOf(RetryableError);
    expect(e500).not.toBeInstanceOf(ResponseVerificationError);
    emu.inject({ kind: 'http', status: 502, html: true }, { route: 'query' });
    expect(await failing()).toBeInstanceOf(RetryableError);
    emu.inject({ kind: 'rate-limit' }, { route: 'query' });
    expect(await failing()).toBeInstanceOf(RateLimitedError);
    emu.inject({ kind: 'timeout', ms: 1_500 }, { route: 'query' });
    expect(await failing(400)).toBeInstanceOf(RetryableError);
    emu.inject({ kind: 'bad-signature' }, { route: 'query' });
    expect(await failing()).toBeInstanceOf(ResponseVerificationError);
    emu.inject({ kind: 'vendor', status: 403, code: 'NO_AUTH', message: '无权限' }, { route: 'any', times: 2 });
    expect(await failing()).toBeInstanceOf(PermanentError);
    await expect(client.closeOrder(otn)).rejects.toBeInstanceOf(PermanentError);
    expect((await client.queryOrder(otn))?.trade_state).toBe('NOTPAY');
  });
});

// ---- callbacks ----

interface Received {
  headers: SignedHeaders & Record<string, string | string[] | undefined>;
  body: Buffer;
}
const received: Received[] = [];
let answers: number[] = [];
let receiver: Server | undefined;

async function receiverUrl(): Promise<string> {
  if (!receiver) {
    receiver = createServer((req, res) => {
      void read(req).then((body) => {
        received.push({ headers: req.headers as Received['headers'], body });
        const status = answers.shift() ?? 204;
        if (status === 0) return; // never answers: the emulator times out
        res.writeHead(status).end(status >= 400 ? '{"code":"FAIL","message":"失败"}' : '');
      });
    });
    await new Promise<void>((resolve) => receiver?.listen(0, '127.0.0.1', resolve));
  }
  return `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/wechat-pay`;
}
async function stopReceiver(): Promise<void> {
  if (!receiver) return;
  receiver.closeAllConnections();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
}

describe('callbacks', () => {
  beforeEach(() => {
    received.length = 0;
    answers = [];
  });

  async function paidWithCallback(c: MerchantCredentials): Promise<string> {
    const otn = no('N');
    emu.createOrder({ mchid: c.mchid, out_trade_no: otn, total: 888 });
    emu.pay(otn, { mchid: c.mchid });
    await emu.callbacksSettled();
    return otn;
  }

  it('pushes TRANSACTION.SUCCESS signed by the PUB_KEY_ID_ key, which the client verifies and decrypts', async () => {
    const c = emu.addMerchant({ mchid: '1900000201', appid: 'wx00000000000000c1', keyMode: 'public_key', notifyUrl: await receiverUrl() });
    const otn = await paidWithCallback(c);
    expect(received).toHaveLength(1);
    const got = received[0] as Received;
    expect(got.headers['wechatpay-signature-type']).toBe('WECHATPAY2-SHA256-RSA2048');
    expect(got.headers['request-id']).toBeTruthy();
    const envelope = JSON.parse(got.body.toString()) as { resource: { nonce: string; associated_data: string; algorithm: string }; resource_type: string };
    expect(envelope.resource).toMatchObject({ algorithm: 'AEAD_AES_256_GCM', associated_data: 'transaction' });
    expect(envelope.resource.nonce).toMatch(/^[A-Za-z0-9]{12}$/);
    expect(envelope.resource_type).toBe('encrypt-resource');
    const n = clientFor(c).verifyNotification(got.headers, got.body);
    expect(n).toMatchObject({ kind: 'transaction', event_type: 'TRANSACTION.SUCCESS', resource: { out_trade_no: otn, trade_state: 'SUCCESS', amount: { total: 888 } } });
    expect(n.serial).toMatch(/^PUB_KEY_ID_/);
    expect(await clientFor(c).fetchPlatformCertificates()).toEqual([]);
    const tampered = Buffer.from(got.body.toString().replace('TRANSACTION.SUCCESS', 'TRANSACTION.SUCCESZ'));
    expect(() => clientFor(c).verifyNotification(got.headers, tampered)).toThrow();
  });

  it('signs with a real platform certificate in certificate mode and serves it from /v3/certificates', async () => {
    const c = emu.addMerchant({ mchid: '1900000202', appid: 'wx00000000000000c2', keyMode: 'certificate', notifyUrl: await receiverUrl() });
    await paidWithCallback(c);
    const n = clientFor(c).verifyNotification((received[0] as Received).headers, (received[0] as Received).body);
    expect(n.serial).toMatch(/^[0-9A-F]{40}$/);
    const [cert] = await clientFor(c).fetchPlatformCertificates();
    expect(cert?.serial).toBe(n.serial);
    const x509 = new X509Certificate(cert?.pem ?? '');
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.publicKey.export({ type: 'spki', format: 'der' })).toEqual(c.platformKeys.get(n.serial)?.export({ type: 'spki', format: 'der' }));
  });

  it('alternates both serials while migrating, each verified by its own key', async () => {
    const c = emu.addMerchant({ mchid: '1900000203', appid: 'wx00000000000000c3', keyMode: 'migrating', notifyUrl: await receiverUrl() });
    expect(c.platformKeys.size).toBe(2);
    const otn = await paidWithCallback(c);
    await emu.notify(otn, { mchid: c.mchid });
    await emu.notify(otn, { mchid: c.mchid });
    await emu.callbacksSettled();
    const serials = received.map((r) => clientFor(c).verifyNotification(r.headers, r.body).serial);
    expect(serials).toHaveLength(3);
    expect(serials[0]).not.toBe(serials[1]);
    expect(serials[2]).toBe(serials[0]);
    expect(new Set(serials)).toEqual(new Set(c.platformKeys.keys()));
  });

  it('retries an unanswered or non-2xx callback with the same id until a 204', async () => {
    const c = emu.addMerchant({ mchid: '1900000204', appid: 'wx00000000000000c4', notifyUrl: await receiverUrl() });
    answers = [500, 0, 404, 204];
    const otn = await paidWithCallback(c);
    const mine = emu.deliveries.filter((d) => d.out_trade_no === otn);
    expect(mine.map((d) => [d.attempt, d.status])).toEqual([[1, 500], [2, 0], [3, 404], [4, 204]]);
    expect(new Set(mine.map((d) => d.id)).size).toBe(1);
    const ids = received.map((r) => clientFor(c).verifyNotification(r.headers, r.body).id);
    expect(ids).toEqual([mine[0]?.id, mine[0]?.id, mine[0]?.id, mine[0]?.id]);
  });

  it('pushes REFUND.SUCCESS with the refund AAD', async () => {
    const c = emu.addMerchant({ mchid: '1900000205', appid: 'wx00000000000000c5', notifyUrl: await receiverUrl() });
    const otn = await paidWithCallback(c);
    emu.recordRefund({ mchid: c.mchid, out_trade_no: otn, out_refund_no: `${otn}R`, refund: 88, notify: true });
    await emu.callbacksSettled();
    const got = received[1] as Received;
    expect(JSON.parse(got.body.toString()).resource.associated_data).toBe('refund');
    expect(clientFor(c).verifyNotification(got.headers, got.body)).toMatchObject({
      kind: 'refund',
      event_type: 'REFUND.SUCCESS',
      resource: { out_trade_no: otn, out_refund_no: `${otn}R`, refund_status: 'SUCCESS', amount: { refund: 88, total: 888 } },
    });
  });
});
