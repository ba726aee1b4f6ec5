import { createCipheriv, createHash, createSign, createVerify, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { DeferredError, PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';
import { loadMerchantCredentials } from '../../integrations/wechat-pay/wechat-pay.credentials';
import {
  BillHashMismatchError,
  NotificationRejectedError,
  OrderPaidError,
  ResponseVerificationError,
  STATEMENT_RETRY_MS,
  StatementNotReadyError,
} from '../../integrations/wechat-pay/wechat-pay.errors';
import { LiveWechatPayClient } from '../../integrations/wechat-pay/wechat-pay.live';

const MCHID = '1900000001';
const SERIAL = '3775B6A45ACD588826D15E583A95F5DD2AC7B4C1';
const PUB_KEY_ID = 'PUB_KEY_ID_0119000000012026112300000000000001';
const API_V3_KEY = 'k'.repeat(16) + '0123456789abcdef';
const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
const platform = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
const NOW = new Date('2026-11-23T02:30:00Z');

interface Received {
  method: string;
  url: string;
  body: string;
  /** The Authorization header checked here with node:crypto and the merchant's public key. */
  authorized: boolean;
  auth: Record<string, string>;
}

type Handler = (req: Received, res: ServerResponse) => void;

function checkAuthorization(header: string | undefined, method: string, url: string, body: string): { ok: boolean; params: Record<string, string> } {
  const params: Record<string, string> = {};
  if (!header?.startsWith('WECHATPAY2-SHA256-RSA2048 ')) return { ok: false, params };
  for (const m of header.matchAll(/(\w+)="([^"]*)"/g)) params[m[1] as string] = m[2] as string;
  const message = `${method}\n${url}\n${params.timestamp}\n${params.nonce_str}\n${body}\n`;
  const ok = params.mchid === MCHID && params.serial_no === SERIAL && createVerify('RSA-SHA256').update(message).verify(merchant.publicKey, params.signature ?? '', 'base64');
  return { ok, params };
}

/** WeChat's response headers over the raw body, signed by `key` (the platform key unless a test forges one). */
function signedHeaders(body: Buffer, key: KeyObject = platform.privateKey, timestamp = Math.floor(NOW.getTime() / 1000)): Record<string, string> {
  const nonce = randomBytes(16).toString('hex');
  const message = Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`), body, Buffer.from('\n')]);
  return {
    'Wechatpay-Timestamp': String(timestamp),
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Signature': createSign('RSA-SHA256').update(message).sign(key, 'base64'),
    'Wechatpay-Serial': PUB_KEY_ID,
  };
}

function reply(res: ServerResponse, status: number, json: unknown, key?: KeyObject): void {
  const body = json === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(json));
  res.writeHead(status, { ...(json === undefined ? {} : { 'Content-Type': 'application/json' }), ...signedHeaders(body, key) });
  res.end(body);
}

describe('LiveWechatPayClient over HTTP', () => {
  let server: Server;
  let baseUrl: string;
  let handler: Handler;
  const received: Received[] = [];
  const client = (timeoutMs = 2_000) =>
    new LiveWechatPayClient(
      loadMerchantCredentials({
        mchid: MCHID,
        appid: 'wx0000000000000001',
        serialNo: SERIAL,
        privateKeyPem: merchant.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        apiV3Key: API_V3_KEY,
        publicKeyId: PUB_KEY_ID,
        publicKeyPem: platform.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      }),
      { baseUrl, timeoutMs, now: () => NOW },
    );

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const check = checkAuthorization(req.headers.authorization, req.method ?? '', req.url ?? '', body);
        const r: Received = { method: req.method ?? '', url: req.url ?? '', body, authorized: check.ok, auth: check.params };
        received.push(r);
        handler(r, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  beforeEach(() => {
    received.length = 0;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('signs requests so that WeChat verifies them, path and query included', async () => {
    handler = (_req, res) => reply(res, 200, { out_trade_no: 'Ab/1 x', trade_state: 'NOTPAY', mchid: MCHID });
    const order = await client().queryOrder('Ab/1 x');
    expect(order).toMatchObject({ out_trade_no: 'Ab/1 x', trade_state: 'NOTPAY' });
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ method: 'GET', url: `/v3/pay/transactions/out-trade-no/Ab%2F1%20x?mchid=${MCHID}`, body: '', authorized: true });
    expect(received[0]?.auth.timestamp).toBe(String(Math.floor(NOW.getTime() / 1000)));
  });

  it('closes an order: a 204 verified over the empty body', async () => {
    handler = (_req, res) => reply(res, 204, undefined);
    await expect(client().closeOrder('T-CLOSE')).resolves.toBeUndefined();
    expect(received[0]).toMatchObject({ method: 'POST', url: '/v3/pay/transactions/out-trade-no/T-CLOSE/close', body: `{"mchid":"${MCHID}"}`, authorized: true });
  });

  it('refuses a 204 signed by another key, and a paid order on close', async () => {
    handler = (_req, res) => reply(res, 204, undefined, stranger.privateKey);
    await expect(client().closeOrder('T1')).rejects.toBeInstanceOf(ResponseVerificationError);
    handler = (_req, res) => reply(res, 400, { code: 'ORDER_PAID', message: '订单已支付' });
    await expect(client().closeOrder('T1')).rejects.toBeInstanceOf(OrderPaidError);
  });

  it('refuses a 2xx with a bad signature', async () => {
    handler = (_req, res) => reply(res, 200, { out_trade_no: 'T1', trade_state: 'SUCCESS' }, stranger.privateKey);
    await expect(client().queryOrder('T1')).rejects.toBeInstanceOf(ResponseVerificationError);
    handler = (_req, res) => {
      const body = Buffer.from('{"out_trade_no":"T1","trade_state":"NOTPAY"}');
      res.writeHead(200, signedHeaders(body));
      res.end(Buffer.from('{"out_trade_no":"T1","trade_state":"SUCCESS"}'));
    };
    await expect(client().queryOrder('T1')).rejects.toBeInstanceOf(ResponseVerificationError);
  });

  it('maps an HTML 502 to a retryable error and 429 to a rate limit', async () => {
    handler = (_req, res) => {
      res.writeHead(502, { 'Content-Type': 'text/html' });
      res.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
    };
    const err = await client().queryOrder('T1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect(err).not.toBeInstanceOf(ResponseVerificationError);
    handler = (_req, res) => reply(res, 429, { code: 'FREQUENCY_LIMITED', message: '频率超限' });
    await expect(client().queryOrder('T1')).rejects.toBeInstanceOf(RateLimitedError);
  });

  it('answers null for an unknown order', async () => {
    handler = (_req, res) => reply(res, 404, { code: 'ORDER_NOT_EXIST', message: '订单不存在' });
    await expect(client().queryOrder('T404')).resolves.toBeNull();
    handler = (_req, res) => reply(res, 404, { code: 'NOT_FOUND', message: '?' });
    await expect(client().queryOrder('T404')).rejects.toBeInstanceOf(PermanentError);
  });

  it('gives up after timeoutMs when the server never answers', async () => {
    handler = () => undefined;
    const started = Date.now();
    const err = await client(300).queryOrder('T-SLOW').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RetryableError);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  describe('bills', () => {
    const bill = Buffer.from('\uFEFF交易时间,商户订单号,应结订单金额\r\n`2026-11-22 10:00:00,`T1,`0.01\r\n总交易单数\r\n`1\r\n', 'utf8');
    const sha1 = createHash('sha1').update(bill).digest('hex');

    async function readAll(stream: Readable): Promise<Buffer> {
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      return Buffer.concat(chunks);
    }

    function serveBill(file: Buffer, contentType: string, hash = sha1): void {
      handler = (req, res) => {
        if (req.url.startsWith('/v3/bill/tradebill')) return reply(res, 200, { hash_type: 'SHA1', hash_value: hash.toUpperCase(), download_url: `${baseUrl}/v3/billdownload/file?token=t%2B1&tartype=gzip` });
        res.writeHead(200, { 'Content-Type': contentType });
        res.end(file);
      };
    }

    it('downloads a gzip bill as its uncompressed bytes, the SHA1 checked', async () => {
      serveBill(gzipSync(bill), 'application/x-gzip');
      const c = client();
      const application = await c.applyTradeBill('2026-11-22', { gzip: true });
      expect(received[0]).toMatchObject({ url: '/v3/bill/tradebill?bill_date=2026-11-22&bill_type=ALL&tar_type=GZIP', authorized: true });
      if (application.kind !== 'ticket') throw new Error('expected a ticket');
      expect(await readAll(await c.downloadBill(application.ticket))).toEqual(bill);
      expect(received[1]).toMatchObject({ url: '/v3/billdownload/file?token=t%2B1&tartype=gzip', authorized: true });
    });

    it('detects gzip by its magic bytes and passes plain files through', async () => {
      serveBill(gzipSync(bill), 'application/octet-stream');
      const c = client();
      const app1 = await c.applyTradeBill('2026-11-22');
      if (app1.kind !== 'ticket') throw new Error('expected a ticket');
      expect(await readAll(await c.downloadBill(app1.ticket))).toEqual(bill);
      serveBill(bill, 'text/plain');
      const app2 = await c.applyTradeBill('2026-11-22');
      if (app2.kind !== 'ticket') throw new Error('expected a ticket');
      expect(await readAll(await c.downloadBill(app2.ticket))).toEqual(bill);
    });

    it('errors with BillHashMismatchError on a truncated download', async () => {
      const gz = gzipSync(bill);
      serveBill(gz.subarray(0, gz.length - 12), 'application/x-gzip');
      const c = client();
      const app1 = await c.applyTradeBill('2026-11-22');
      if (app1.kind !== 'ticket') throw new Error('expected a ticket');
      await expect(readAll(await c.downloadBill(app1.ticket))).rejects.toBeInstanceOf(BillHashMismatchError);
      serveBill(bill.subarray(0, bill.length - 5), 'text/plain');
      const app2 = await c.applyTradeBill('2026-11-22');
      if (app2.kind !== 'ticket') throw new Error('expected a ticket');
      await expect(readAll(await c.downloadBill(app2.ticket))).rejects.toBeInstanceOf(BillHashMismatchError);
    });

    it('errors with BillHashMismatchError when the connection drops or the body stalls', async () => {
      const c = client(400);
      for (const stall of [false, true]) {
        handler = (req, res) => {
          if (req.url.startsWith('/v3/bill/tradebill')) return reply(res, 200, { hash_type: 'SHA1', hash_value: sha1, download_url: `${baseUrl}/v3/billdownload/file?token=t` });
          res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': String(bill.length) });
          res.write(bill.subarray(0, 20));
          if (!stall) setTimeout(() => res.destroy(), 20);
        };
        const app = await c.applyTradeBill('2026-11-22');
        if (app.kind !== 'ticket') throw new Error('expected a ticket');
        const started = Date.now();
        await expect(readAll(await c.downloadBill(app.ticket))).rejects.toBeInstanceOf(BillHashMismatchError);
        if (stall) expect(Date.now() - started).toBeGreaterThanOrEqual(350);
      }
    });

    it('refuses a download URL on another origin without sending anything there', async () => {
      const c = client();
      const ticket = { hash_type: 'SHA1' as const, hash_value: sha1, download_url: 'http://127.0.0.2:1/v3/billdownload/file?token=x' };
      await expect(c.downloadBill(ticket)).rejects.toBeInstanceOf(PermanentError);
      expect(received).toHaveLength(0);
    });

    it('maps an expired link, an empty day and a bill still being generated', async () => {
      handler = (_req, res) => reply(res, 400, { code: 'INVALID_REQUEST', message: '下载链接过期' });
      const c = client();
      await expect(c.downloadBill({ hash_type: 'SHA1', hash_value: sha1, download_url: `${baseUrl}/v3/billdownload/file?token=old` })).rejects.toBeInstanceOf(PermanentError);
      handler = (_req, res) => reply(res, 400, { code: 'NO_STATEMENT_EXIST', message: '账单文件不存在' });
      await expect(c.applyTradeBill('2026-11-21')).resolves.toEqual({ kind: 'no-statement' });
      handler = (_req, res) => reply(res, 400, { code: 'STATEMENT_CREATING', message: '账单生成中' });
      const err = await c.applyTradeBill('2026-11-22').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StatementNotReadyError);
      expect(err).toBeInstanceOf(DeferredError);
      expect((err as DeferredError).untilMs).toBe(NOW.getTime() + STATEMENT_RETRY_MS);
    });
  });

  describe('callbacks', () => {
    function callback(resource: Record<string, unknown>, o: { originalType?: string; key?: string; eventType?: string } = {}): { headers: Record<string, string>; body: Buffer } {
      const nonce = randomBytes(6).toString('hex');
      const aad = o.originalType ?? 'transaction';
      const cipher = createCipheriv('aes-256-gcm', Buffer.from(o.key ?? API_V3_KEY), Buffer.from(nonce));
      cipher.setAAD(Buffer.from(aad));
      const ciphertext = Buffer.concat([cipher.update(JSON.stringify(resource)), cipher.final(), cipher.getAuthTag()]).toString('base64');
      const envelope = {
        id: 'EV-1',
        create_time: '2026-11-23T10:30:00+08:00',
        resource_type: 'encrypt-resource',
        event_type: o.eventType ?? 'TRANSACTION.SUCCESS',
        summary: '支付成功',
        resource: { original_type: o.originalType ?? 'transaction', algorithm: 'AEAD_AES_256_GCM', ciphertext, associated_data: aad, nonce },
      };
      const body = Buffer.from(JSON.stringify(envelope));
      const headers = Object.fromEntries(Object.entries(signedHeaders(body)).map(([k, v]) => [k.toLowerCase(), v]));
      return { headers, body };
    }

    it('verifies and decrypts payment and refund notifications', () => {
      const paid = callback({ mchid: MCHID, out_trade_no: 'T1', transaction_id: '42', trade_state: 'SUCCESS', amount: { total: 100 }, extra: 1 });
      expect(client().verifyNotification(paid.headers, paid.body)).toMatchObject({ kind: 'transaction', id: 'EV-1', serial: PUB_KEY_ID, resource: { out_trade_no: 'T1', extra: 1 } });
      const refund = callback({ mchid: MCHID, out_trade_no: 'T1', out_refund_no: 'R1', refund_status: 'SUCCESS' }, { originalType: 'refund', eventType: 'REFUND.SUCCESS' });
      expect(client().verifyNotification(refund.headers, refund.body)).toMatchObject({ kind: 'refund', resource: { out_refund_no: 'R1' } });
    });

    it('rejects tampered, undecryptable and malformed notifications', () => {
      const c = client();
      const ok = callback({ mchid: MCHID, out_trade_no: 'T1', trade_state: 'SUCCESS' });
      const tampered = Buffer.from(ok.body.toString().replace('EV-1', 'EV-2'));
      expect(() => c.verifyNotification(ok.headers, tampered)).toThrow(NotificationRejectedError);
      const wrongKey = callback({ mchid: MCHID, out_trade_no: 'T1', trade_state: 'SUCCESS' }, { key: 'x'.repeat(32) });
      expect(() => c.verifyNotification(wrongKey.headers, wrongKey.body)).toThrow(/decrypted/);
      const malformed = callback({ mchid: MCHID, out_trade_no: 'T1', trade_state: 'PAID_MAYBE' });
      expect(() => c.verifyNotification(malformed.headers, malformed.body)).toThrow(/malformed/);
      const otherMerchant = callback({ mchid: '1900000002', out_trade_no: 'T1', trade_state: 'SUCCESS' });
      expect(() => c.verifyNotification(otherMerchant.headers, otherMerchant.body)).toThrow(/merchant/);
    });

    it('reopens a stored callback without its headers, with every check but the signature', () => {
      const c = client();
      const ok = callback({ mchid: MCHID, out_trade_no: 'T1', transaction_id: '42', trade_state: 'SUCCESS', amount: { total: 100 } });
      expect(c.openStoredNotification(ok.body)).toMatchObject({ kind: 'transaction', id: 'EV-1', serial: 'stored', resource: { out_trade_no: 'T1', amount: { total: 100 } } });
      // A stored body altered after it was verified no longer decrypts: the AEAD tag covers the resource.
      const envelope = JSON.parse(ok.body.toString()) as { resource: { ciphertext: string } };
      const bytes = Buffer.from(envelope.resource.ciphertext, 'base64');
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      envelope.resource.ciphertext = bytes.toString('base64');
      expect(() => c.openStoredNotification(Buffer.from(JSON.stringify(envelope)))).toThrow(/decrypted/);
      const wrongKey = callback({ mchid: MCHID, out_trade_no: 'T1', trade_state: 'SUCCESS' }, { key: 'x'.repeat(32) });
      expect(() => c.openStoredNotification(wrongKey.body)).toThrow(NotificationRejectedError);
    });
  });
});
