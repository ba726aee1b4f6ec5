import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { EmulatorAnswer, EmulatorRequest } from '../../emulator-server';
import { aliyunV1Valid, aliyunV3Expected, parseAcs3, sameText } from './sms.emulator-auth';
import { mainlandDigits, smsAnswer, SmsEmulatorCore, type EmulatedSms, type SmsEmulatorOptions, type SmsFault } from './sms.emulator-core';

/**
 * Aliyun Dysmsapi (2017-05-25) on 127.0.0.1: SendSms over V1 (HMAC-SHA1, query or form) and V3
 * (ACS3-HMAC-SHA256 headers), a 15-minute clock window, nonce replay, template/number checks,
 * per-number frequency rules and SmsReport receipt pushes (`{"code":0}` stops re-pushing).
 */

const SKEW_MS = 15 * 60_000;
const MAX_NUMBERS = 1000;

export interface AliyunSmsEmulatorOptions extends SmsEmulatorOptions {
  accessKeyId?: string;
  accessKeySecret?: string;
}

class AliyunFail extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function headerList(req: EmulatorRequest): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] ?? '').toLowerCase();
    out.set(name, [...(out.get(name) ?? []), req.rawHeaders[i + 1] ?? '']);
  }
  return out;
}

function formParams(text: string, into: Map<string, string>): void {
  for (const part of text.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    into.set(decodeURIComponent(k.replace(/\+/g, '%20')), decodeURIComponent(v.replace(/\+/g, '%20')));
  }
}

/** Aliyun's timestamps: `yyyy-MM-ddTHH:mm:ssZ` (UTC). */
function parseAcsTime(text: string | undefined): number {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(text ?? '') ? Date.parse(text ?? '') : NaN;
}

export class AliyunSmsEmulator extends SmsEmulatorCore {
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  private readonly templates = new Map<string, string[]>();
  private readonly signs = new Set<string>();
  private readonly nonces = new Map<string, number>();
  private bizSeq = 0;

  private constructor(o: AliyunSmsEmulatorOptions) {
    super(o);
    this.accessKeyId = o.accessKeyId ?? `LTAI${randomBytes(10).toString('hex')}`;
    this.accessKeySecret = o.accessKeySecret ?? randomBytes(15).toString('base64');
  }

  static async start(o: AliyunSmsEmulatorOptions = {}): Promise<AliyunSmsEmulator> {
    const emu = new AliyunSmsEmulator(o);
    await emu.listen();
    return emu;
  }

  /** An approved template; its variables are the `${name}` placeholders of `text`. */
  addTemplate(code: string, text: string): void {
    this.templates.set(code, [...text.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1] ?? ''));
  }

  addSign(name: string): void {
    this.signs.add(name);
  }

  protected override handle(req: EmulatorRequest, fault: SmsFault | undefined): EmulatorAnswer {
    const requestId = randomUUID().toUpperCase();
    try {
      if (fault?.kind === 'http') {
        const headers: Record<string, string> = fault.retryAfterSec === undefined ? {} : { 'x-acs-retry-after': String(fault.retryAfterSec * 1000) };
        return smsAnswer(fault.status, { Code: fault.code ?? 'ServiceUnavailable', Message: 'The request has failed due to a temporary failure of the server.', RequestId: requestId }, headers);
      }
      const params = this.authenticate(req);
      if (fault?.kind === 'code') return smsAnswer(200, { Code: fault.code, Message: fault.message ?? fault.code, RequestId: requestId });
      if (params.get('Action') !== 'SendSms') throw new AliyunFail(404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.');
      if (params.get('Version') !== '2017-05-25') throw new AliyunFail(400, 'InvalidVersion', 'Specified parameter Version is not valid.');
      const bizId = this.sendSms(params);
      return smsAnswer(200, { Code: 'OK', Message: 'OK', RequestId: requestId, BizId: bizId });
    } catch (err) {
      if (!(err instanceof AliyunFail)) throw err;
      return smsAnswer(err.status, { Code: err.code, Message: err.message, RequestId: requestId });
    }
  }

  /** Verifies V1 or V3 and returns every parameter (common and business). */
  private authenticate(req: EmulatorRequest): Map<string, string> {
    const { url, body } = req;
    const rawQuery = url.search.replace(/^\?/, '');
    const params = new Map<string, string>();
    formParams(rawQuery, params);
    if (/x-www-form-urlencoded/.test(req.headers['content-type'] ?? '')) formParams(body.toString('utf8'), params);
    const headers = headerList(req);
    const auth = req.headers.authorization;
    let at: number;
    let nonce: string | undefined;
    if (auth?.startsWith('ACS3-')) {
      const parsed = parseAcs3(auth);
      if (!parsed) throw new AliyunFail(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.');
      if (parsed.accessKeyId !== this.accessKeyId) throw new AliyunFail(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
      const mustSign = ['host', 'x-acs-action', 'x-acs-version', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256'];
      const contentHash = headers.get('x-acs-content-sha256')?.[0] ?? '';
      if (mustSign.some((h) => !parsed.signedHeaders.includes(h)) || contentHash !== createHash('sha256').update(body).digest('hex')) {
        throw new AliyunFail(400, 'IncompleteSignature', 'The request signature does not conform to Aliyun standards.');
      }
      const expected = aliyunV3Expected(req.method, url.pathname, rawQuery, headers, parsed.signedHeaders, contentHash, this.accessKeySecret);
      if (!sameText(expected, parsed.signature)) throw new AliyunFail(400, 'SignatureDoesNotMatch', 'Specified signature is not matched with our calculation.');
      params.set('Action', headers.get('x-acs-action')?.[0] ?? '');
      params.set('Version', headers.get('x-acs-version')?.[0] ?? '');
      at = parseAcsTime(headers.get('x-acs-date')?.[0]);
      nonce = headers.get('x-acs-signature-nonce')?.[0];
    } else {
      if (!params.has('Signature')) throw new AliyunFail(400, 'MissingParameter', 'The input parameter "Signature" that is mandatory for processing this request is not supplied.');
      if (params.get('AccessKeyId') !== this.accessKeyId) throw new AliyunFail(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
      if (!aliyunV1Valid(req.method, params, this.accessKeySecret)) throw new AliyunFail(400, 'SignatureDoesNotMatch', 'Specified signature is not matched with our calculation.');
      at = parseAcsTime(params.get('Timestamp'));
      nonce = params.get('SignatureNonce');
    }
    const now = this.now().getTime();
    if (!Number.isFinite(at) || Math.abs(at - now) > SKEW_MS) throw new AliyunFail(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
    for (const [n, seen] of this.nonces) if (seen < now - SKEW_MS) this.nonces.delete(n);
    if (!nonce || this.nonces.has(nonce)) throw new AliyunFail(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    this.nonces.set(nonce, now);
    return params;
  }

  /** Business checks answered as `isv.*` codes inside a 200, as Aliyun does. */
  private sendSms(params: Map<string, string>): string {
    const fail = (code: string, message: string): never => {
      throw new AliyunFail(200, code, message);
    };
    const phones = (params.get('PhoneNumbers') ?? '').split(',').filter((p) => p !== '');
    if (phones.length === 0) fail('isv.MOBILE_NUMBER_ILLEGAL', '非法手机号');
    if (phones.length > MAX_NUMBERS) fail('isv.MOBILE_COUNT_OVER_LIMIT', '手机号码数量超过限制');
    const digits = phones.map((p) => mainlandDigits(p) ?? fail('isv.MOBILE_NUMBER_ILLEGAL', `非法手机号:${p}`));
    const sign = params.get('SignName') ?? '';
    if (!this.signs.has(sign)) fail('isv.SMS_SIGNATURE_ILLEGAL', '该账号下找不到对应签名');
    const template = params.get('TemplateCode') ?? '';
    const vars = this.templates.get(template) ?? fail('isv.SMS_TEMPLATE_ILLEGAL', '该账号下找不到对应模板');
    let values: Record<string, unknown> = {};
    if (vars.length > 0 || params.has('TemplateParam')) {
      try {
        const parsed: unknown = JSON.parse(params.get('TemplateParam') ?? '');
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        values = parsed as Record<string, unknown>;
      } catch {
        fail('isv.INVALID_JSON_PARAM', 'JSON参数不合法，只接受字符串值');
      }
      if (Object.values(values).some((v) => typeof v !== 'string')) fail('isv.INVALID_JSON_PARAM', 'JSON参数不合法，只接受字符串值');
      if (vars.some((v) => values[v] === undefined)) fail('isv.TEMPLATE_MISSING_PARAMETERS', '模板缺少变量');
    }
    for (const d of digits) {
      const hit = this.countSend(d);
      if (hit === 'minute') fail('isv.BUSINESS_LIMIT_CONTROL', '触发分钟级流控Permits:1');
      if (hit === 'hour') fail('isv.BUSINESS_LIMIT_CONTROL', '触发小时级流控Permits:5');
      if (hit === 'day') fail('isv.BUSINESS_LIMIT_CONTROL', '触发天级流控Permits:10');
    }
    this.bizSeq += 1;
    const bizId = `${Date.now()}${String(this.bizSeq).padStart(6, '0')}^0`;
    const sentAt = this.now();
    const outId = params.get('OutId');
    const batch: EmulatedSms[] = digits.map((phone) => ({
      messageId: bizId, phone, sign, template, params: vars.map((v) => String(values[v])), outId, sentAt, status: 'waiting',
    }));
    this.record(batch);
    return bizId;
  }

  /** SmsReport, HTTP batch push mode. */
  protected override receiptBody(batch: readonly EmulatedSms[]): unknown {
    return batch.map((m) => {
      const f = this.receiptFields(m);
      return {
        phone_number: m.phone, send_time: f.sendTime, report_time: f.reportTime, success: m.status === 'delivered',
        // The push sample spells success DELIVERED where QuerySendDetails says DELIVRD.
        err_code: m.status === 'delivered' ? 'DELIVERED' : (m.errCode ?? 'UNDELIV'), err_msg: f.errMessage,
        sms_size: '1', biz_id: m.messageId, out_id: m.outId ?? '',
      };
    });
  }

  protected override isAck(body: unknown): boolean {
    return typeof body === 'object' && body !== null && (body as { code?: unknown }).code === 0;
  }
}
