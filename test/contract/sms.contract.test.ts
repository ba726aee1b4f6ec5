import { createHmac, randomUUID } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeferredError, PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';
import { AliyunSmsEmulator } from '../../integrations/sms/emulator/aliyun-sms.emulator';
import { AliyunSmsClient } from '../../integrations/sms/aliyun-sms.live';
import { SmsOutcomeUnknownError } from '../../integrations/sms/sms.errors';
import { TencentSmsEmulator } from '../../integrations/sms/emulator/tencent-sms.emulator';
import { TencentSmsClient } from '../../integrations/sms/tencent-sms.live';
import { failure } from '../support/failure';

/** Each live SMS client against its emulator over real HTTP; receipts pushed to a real local endpoint. */

let clockMs = Date.now();
const now = (): Date => new Date(clockMs);
let seq = Math.floor(Math.random() * 1e8);
const phone = (): string => `13${String((seq += 1) % 1e9).padStart(9, '0')}`;

/** The receipt endpoint: records every push; answers the vendor's ack only once `nackFirst` pushes were refused. */
const pushes: { path: string; body: unknown }[] = [];
let nackFirst = 0;
let receiver: Server;
let receiverUrl = '';

let ali: AliyunSmsEmulator;
let aliClient: AliyunSmsClient;
let tc: TencentSmsEmulator;
let tcClient: TencentSmsClient;
const RETRY_DELAYS = Array.from({ length: 9 }, () => 5);

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      pushes.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown });
      const refuse = nackFirst > 0;
      if (refuse) nackFirst -= 1;
      const client = req.url === '/aliyun' ? aliClient : tcClient;
      res.writeHead(refuse ? 500 : 200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(refuse ? { error: 'busy' } : client.receiptAck));
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  ali = await AliyunSmsEmulator.start({ now, receiptUrl: `${receiverUrl}/aliyun`, receiptRetryDelaysMs: RETRY_DELAYS });
  ali.addSign('家校通');
  ali.addTemplate('SMS_100001', '您的验证码为${code}，${minutes}分钟内有效');
  aliClient = new AliyunSmsClient({ endpoint: ali.baseUrl, accessKeyId: ali.accessKeyId, accessKeySecret: ali.accessKeySecret, timeoutMs: 2_000, now });
  tc = await TencentSmsEmulator.start({ now, receiptUrl: `${receiverUrl}/tencent`, receiptRetryDelaysMs: RETRY_DELAYS });
  tc.addSign('家校通');
  tc.addTemplate('1110001', '您的验证码为{1}，{2}分钟内有效');
  tcClient = new TencentSmsClient({
    endpoint: tc.baseUrl, secretId: tc.secretId, secretKey: tc.secretKey, region: 'ap-guangzhou', sdkAppId: tc.sdkAppId, timeoutMs: 2_000, now,
  });
});

afterAll(async () => {
  await ali.stop();
  await tc.stop();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

beforeEach(() => {
  clockMs = Date.now();
  nackFirst = 0;
});


const otp = { id: 'SMS_100001', sign: '家校通', params: { code: 123456, minutes: '5' } };
const tcOtp = { id: '1110001', sign: '家校通', params: { code: '654321', minutes: 5 } };

describe('Aliyun SendSms (ACS3-HMAC-SHA256)', () => {
  it('sends, stringifying numeric variables, and the receipt comes back with the BizId and OutId', async () => {
    const to = phone();
    const outId = `d-${randomUUID()}`;
    const result = await aliClient.send(`+86${to}`, otp, { outId });
    expect(result).toMatchObject({ provider: 'aliyun', perNumber: [{ phone: `+86${to}`, ok: true }] });
    expect(result.bizId).toMatch(/^\d+\^0$/);
    expect(ali.messages.find((m) => m.messageId === result.bizId)).toMatchObject({ phone: to, params: ['123456', '5'], outId });
    await ali.receiptsSettled();
    const receipts = pushes.flatMap((p) => (p.path === '/aliyun' ? aliClient.parseReceipt(p.body).receipts : [])).filter((r) => r.messageId === result.bizId);
    expect(receipts).toEqual([expect.objectContaining({ provider: 'aliyun', messageId: result.bizId, phone: to, success: true, errCode: 'DELIVERED', outId })]);
  });

  it('a failed delivery is reported by `success`, with the carrier code kept raw', async () => {
    const to = phone();
    ali.setReceiptOutcome(to, { success: false, errCode: 'MBBLACK' });
    const result = await aliClient.send(to, otp);
    await ali.receiptsSettled();
    const receipt = pushes.flatMap((p) => (p.path === '/aliyun' ? aliClient.parseReceipt(p.body).receipts : [])).find((r) => r.phone === to);
    expect(receipt).toMatchObject({ messageId: result.bizId, success: false, errCode: 'MBBLACK' });
  });

  it('re-pushes a receipt until acknowledged, and gives up after ten pushes', async () => {
    // Earlier pushes must not consume the refusals meant for this one.
    await ali.receiptsSettled();
    nackFirst = 2;
    const acked = await aliClient.send(phone(), otp);
    await ali.receiptsSettled();
    expect(ali.receiptDeliveries.filter((d) => d.messageId === acked.bizId).map((d) => [d.attempt, d.acked])).toEqual([[1, false], [2, false], [3, true]]);
    nackFirst = 100;
    const lost = await aliClient.send(phone(), otp);
    await ali.receiptsSettled();
    const tries = ali.receiptDeliveries.filter((d) => d.messageId === lost.bizId);
    expect(tries).toHaveLength(10);
    expect(tries.every((d) => !d.acked)).toBe(true);
  });

  it('classes business codes: bad number, missing variable, bad sign name are permanent', async () => {
    expect(await failure(aliClient.send('12345', otp))).toMatchObject({ constructor: PermanentError, code: 'isv.MOBILE_NUMBER_ILLEGAL' });
    expect(await failure(aliClient.send(phone(), { ...otp, params: { code: '1' } }))).toMatchObject({ code: 'isv.TEMPLATE_MISSING_PARAMETERS' });
    expect(await failure(aliClient.send(phone(), { ...otp, sign: '别家' }))).toMatchObject({ code: 'isv.SMS_SIGNATURE_ILLEGAL' });
    const tooMany = Array.from({ length: 1001 }, () => phone());
    const before = ali.messages.length;
    expect(await failure(aliClient.send(tooMany, otp))).toBeInstanceOf(PermanentError);
    expect(ali.messages).toHaveLength(before);
  });

  it('a second code to one number within a minute is deferred 60 s; hour and day limits drop the message', async () => {
    const to = phone();
    await aliClient.send(to, otp);
    const minute = await failure(aliClient.send(to, otp));
    expect(minute).toBeInstanceOf(DeferredError);
    expect((minute as DeferredError).untilMs).toBe(clockMs + 60_000);
    for (const message of ['触发小时级流控Permits:5', '触发天级流控Permits:10']) {
      ali.inject({ kind: 'code', code: 'isv.BUSINESS_LIMIT_CONTROL', message });
      expect(await failure(aliClient.send(phone(), otp))).toMatchObject({ constructor: PermanentError, code: 'isv.BUSINESS_LIMIT_CONTROL' });
    }
  });

  it('account-wide limits pause the queue; system errors, 5xx and unreadable bodies are retried', async () => {
    ali.inject({ kind: 'code', code: 'isv.DAY_LIMIT_CONTROL', message: '触发日发送限额' });
    expect(await failure(aliClient.send(phone(), otp))).toBeInstanceOf(RateLimitedError);
    ali.inject({ kind: 'http', status: 429, code: 'Throttling.User', retryAfterSec: 2 });
    expect(await failure(aliClient.send(phone(), otp))).toMatchObject({ constructor: RateLimitedError, retryAfterMs: 2_000 });
    ali.inject({ kind: 'code', code: 'isp.SYSTEM_ERROR' });
    expect((await failure(aliClient.send(phone(), otp))).constructor).toBe(RetryableError);
    ali.inject({ kind: 'http', status: 503 });
    expect((await failure(aliClient.send(phone(), otp))).constructor).toBe(RetryableError);
    // A 2xx that is not Aliyun's JSON got through: retried, but as an unknown outcome (maybe sent).
    ali.inject({ kind: 'malformed' });
    expect(await failure(aliClient.send(phone(), otp))).toBeInstanceOf(SmsOutcomeUnknownError);
  });

  it('a lost answer (timeout, dropped connection after sending) is an unknown outcome', async () => {
    const slow = new AliyunSmsClient({ endpoint: ali.baseUrl, accessKeyId: ali.accessKeyId, accessKeySecret: ali.accessKeySecret, timeoutMs: 200, now });
    ali.inject({ kind: 'timeout', ms: 1_000 });
    expect(await failure(slow.send(phone(), otp))).toBeInstanceOf(SmsOutcomeUnknownError);
    const to = phone();
    ali.inject({ kind: 'drop' });
    expect(await failure(aliClient.send(to, otp))).toBeInstanceOf(SmsOutcomeUnknownError);
    expect(ali.messages.some((m) => m.phone === to)).toBe(true);
  });

  it('refuses a wrong secret, an unknown key and a skewed clock', async () => {
    const wrong = new AliyunSmsClient({ endpoint: ali.baseUrl, accessKeyId: ali.accessKeyId, accessKeySecret: `${ali.accessKeySecret}x`, timeoutMs: 2_000, now });
    expect(await failure(wrong.send(phone(), otp))).toMatchObject({ constructor: PermanentError, code: 'SignatureDoesNotMatch' });
    const stranger = new AliyunSmsClient({ endpoint: ali.baseUrl, accessKeyId: 'LTAIunknown', accessKeySecret: ali.accessKeySecret, timeoutMs: 2_000, now });
    expect(await failure(stranger.send(phone(), otp))).toMatchObject({ code: 'InvalidAccessKeyId.NotFound' });
    const skewed = new AliyunSmsClient({ ...{ endpoint: ali.baseUrl, accessKeyId: ali.accessKeyId, accessKeySecret: ali.accessKeySecret, timeoutMs: 2_000 }, now: () => new Date(clockMs + 16 * 60_000) });
    expect(await failure(skewed.send(phone(), otp))).toBeInstanceOf(RetryableError);
  });

  it('the emulator also takes legacy V1 (HMAC-SHA1) form requests and refuses a replayed nonce', async () => {
    const enc = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    const params: Record<string, string> = {
      AccessKeyId: ali.accessKeyId, Action: 'SendSms', Format: 'JSON', PhoneNumbers: phone(), RegionId: 'cn-hangzhou', SignName: '家校通',
      SignatureMethod: 'HMAC-SHA1', SignatureNonce: randomUUID(), SignatureVersion: '1.0', TemplateCode: 'SMS_100001',
      TemplateParam: '{"code":"42","minutes":"5"}', Timestamp: `${now().toISOString().slice(0, 19)}Z`, Version: '2017-05-25',
    };
    const canonical = Object.keys(params).sort().map((k) => `${enc(k)}=${enc(params[k] ?? '')}`).join('&');
    const signature = createHmac('sha1', `${ali.accessKeySecret}&`).update(`POST&%2F&${enc(canonical)}`).digest('base64');
    const form = `${canonical}&Signature=${enc(signature)}`;
    const post = (): Promise<{ status: number; body: { Code?: string } }> =>
      new Promise((resolve, reject) => {
        const req = request(`${ali.baseUrl}/`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Code?: string } }));
        });
        req.on('error', reject);
        req.end(form);
      });
    expect(await post()).toMatchObject({ status: 200, body: { Code: 'OK' } });
    expect(await post()).toMatchObject({ status: 400, body: { Code: 'SignatureNonceUsed' } });
  });
});

describe('Tencent SendSms (TC3-HMAC-SHA256)', () => {
  it('sends to several numbers; failures of some numbers inside a 200 are classed one by one', async () => {
    const [a, b, c] = [phone(), phone(), phone()];
    tc.inject({ kind: 'code', code: 'FailedOperation.PhoneNumberInBlacklist', phone: b });
    const result = await tcClient.send([a, `+86${b}`, c, '1234'], tcOtp, { outId: 'ctx-1' });
    expect(result.perNumber.map((r) => [r.phone, r.ok])).toEqual([[a, true], [`+86${b}`, false], [c, true], ['1234', false]]);
    const [, blocked, , bad] = result.perNumber;
    expect(blocked).toMatchObject({ code: 'FailedOperation.PhoneNumberInBlacklist', error: expect.any(PermanentError) });
    expect(bad).toMatchObject({ code: 'InvalidParameterValue.IncorrectPhoneNumber', error: expect.any(PermanentError) });
    expect(tc.messages.filter((m) => [a, b, c].includes(m.phone)).map((m) => m.params)).toEqual([['654321', '5'], ['654321', '5']]);
  });

  it('per-number limits: 30 s → deferred; hour and day → dropped; nothing else pauses', async () => {
    const to = phone();
    await tcClient.send(to, tcOtp);
    const again = await tcClient.send(to, tcOtp);
    expect(again.perNumber[0]).toMatchObject({ ok: false, code: 'LimitExceeded.PhoneNumberThirtySecondLimit', error: expect.any(DeferredError) });
    const first = again.perNumber[0];
    expect(first && !first.ok && first.error instanceof DeferredError ? first.error.untilMs : 0).toBe(clockMs + 30_000);
    for (const code of ['LimitExceeded.PhoneNumberOneHourLimit', 'LimitExceeded.PhoneNumberDailyLimit']) {
      const n = phone();
      tc.inject({ kind: 'code', code, phone: n });
      const r = await tcClient.send(n, tcOtp);
      expect(r.perNumber[0]).toMatchObject({ ok: false, code, error: expect.any(PermanentError) });
    }
  });

  it('request-level errors: template mismatch and bad sign are permanent, account limits pause, internal errors retry', async () => {
    expect(await failure(tcClient.send(phone(), { ...tcOtp, params: { code: '1' } }))).toMatchObject({ code: 'FailedOperation.TemplateParamSetNotMatchApprovedTemplate' });
    expect(await failure(tcClient.send(phone(), { ...tcOtp, sign: '别家' }))).toMatchObject({ constructor: PermanentError, code: 'FailedOperation.SignatureIncorrectOrUnapproved' });
    expect(await failure(tcClient.send(Array.from({ length: 201 }, () => phone()), tcOtp))).toBeInstanceOf(PermanentError);
    for (const code of ['LimitExceeded.AppDailyLimit', 'FailedOperation.InsufficientBalanceInSmsPackage', 'RequestLimitExceeded']) {
      tc.inject({ kind: 'code', code });
      expect(await failure(tcClient.send(phone(), tcOtp))).toBeInstanceOf(RateLimitedError);
    }
    tc.inject({ kind: 'code', code: 'InternalError.Timeout' });
    expect((await failure(tcClient.send(phone(), tcOtp))).constructor).toBe(RetryableError);
    tc.inject({ kind: 'http', status: 502 });
    expect((await failure(tcClient.send(phone(), tcOtp))).constructor).toBe(RetryableError);
    const slow = new TencentSmsClient({ endpoint: tc.baseUrl, secretId: tc.secretId, secretKey: tc.secretKey, region: 'ap-guangzhou', sdkAppId: tc.sdkAppId, timeoutMs: 200, now });
    tc.inject({ kind: 'timeout', ms: 1_000 });
    expect(await failure(slow.send(phone(), tcOtp))).toBeInstanceOf(SmsOutcomeUnknownError);
    const dropped = phone();
    tc.inject({ kind: 'drop' });
    expect(await failure(tcClient.send(dropped, tcOtp))).toBeInstanceOf(SmsOutcomeUnknownError);
    expect(tc.messages.some((m) => m.phone === dropped)).toBe(true);
    tc.inject({ kind: 'malformed' });
    expect(await failure(tcClient.send(phone(), tcOtp))).toBeInstanceOf(SmsOutcomeUnknownError);
  });

  it('refuses a wrong secret key, a skewed clock and a wrong SmsSdkAppId', async () => {
    const base = { endpoint: tc.baseUrl, secretId: tc.secretId, secretKey: tc.secretKey, region: 'ap-guangzhou', sdkAppId: tc.sdkAppId, timeoutMs: 2_000, now };
    expect(await failure(new TencentSmsClient({ ...base, secretKey: `${tc.secretKey}x` }).send(phone(), tcOtp))).toMatchObject({ constructor: PermanentError, code: 'AuthFailure.SignatureFailure' });
    const skewed = new TencentSmsClient({ ...base, now: () => new Date(clockMs - 6 * 60_000) });
    expect((await failure(skewed.send(phone(), tcOtp))).constructor).toBe(RetryableError);
    expect(await failure(new TencentSmsClient({ ...base, sdkAppId: '1400000000' }).send(phone(), tcOtp))).toMatchObject({ code: 'UnauthorizedOperation.SmsSdkAppIdVerifyFail' });
  });

  it('pushes status reports matched on sid, with the SessionContext, re-pushed until acknowledged', async () => {
    const [ok, failed] = [phone(), phone()];
    tc.setReceiptOutcome(failed, { success: false, errCode: 'UNDELIV' });
    // A message the timed-out request still sent is pushed late: wait for it before counting refusals.
    await tc.receiptsSettled();
    nackFirst = 1;
    const result = await tcClient.send([ok, failed], tcOtp, { outId: 'delivery-77' });
    await tc.receiptsSettled();
    const serials = result.perNumber.map((r) => (r.ok ? r.serialNo : ''));
    const receipts = pushes.filter((p) => p.path === '/tencent').flatMap((p) => tcClient.parseReceipt(p.body).receipts).filter((r) => serials.includes(r.messageId));
    // Pushed twice (the first was refused): the consumer must treat a duplicate receipt as the same fact.
    expect(receipts).toHaveLength(4);
    expect(receipts.slice(-2)).toEqual([
      expect.objectContaining({ provider: 'tencent', messageId: serials[0], phone: `+86${ok}`, success: true, errCode: 'DELIVRD', outId: 'delivery-77' }),
      expect.objectContaining({ messageId: serials[1], phone: `+86${failed}`, success: false, errCode: 'UNDELIV' }),
    ]);
    expect(() => tcClient.parseReceipt({ sid: 'x' })).toThrow(PermanentError);
  });
});
