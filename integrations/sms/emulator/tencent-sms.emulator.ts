import { randomBytes, randomUUID } from 'node:crypto';
import type { EmulatorAnswer, EmulatorRequest } from '../../emulator-server';
import { parseTc3, sameText, tc3Expected } from './sms.emulator-auth';
import { mainlandDigits, smsAnswer, SmsEmulatorCore, type EmulatedSms, type SmsEmulatorOptions, type SmsFault } from './sms.emulator-core';

/**
 * Tencent Cloud SMS (API 3.0, 2021-01-11) on 127.0.0.1: `POST /` with TC3-HMAC-SHA256 over the exact
 * body bytes, a 5-minute window, request errors as `Response.Error` inside a 200, per-number codes in
 * `SendStatusSet`, and status-report pushes (`{"result":0}` stops re-pushing).
 */

const SKEW_S = 300;
const MAX_NUMBERS = 200;

export interface TencentSmsEmulatorOptions extends SmsEmulatorOptions {
  secretId?: string;
  secretKey?: string;
  sdkAppId?: string;
}

class TencentFail extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface SendSmsBody {
  PhoneNumberSet?: unknown;
  SmsSdkAppId?: unknown;
  TemplateId?: unknown;
  SignName?: unknown;
  TemplateParamSet?: unknown;
  SessionContext?: unknown;
}

const strings = (v: unknown): string[] | null => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : null);

export class TencentSmsEmulator extends SmsEmulatorCore {
  readonly secretId: string;
  readonly secretKey: string;
  readonly sdkAppId: string;
  private readonly templates = new Map<string, number>();
  private readonly signs = new Set<string>();
  private serialSeq = 0;

  private constructor(o: TencentSmsEmulatorOptions) {
    super(o);
    this.secretId = o.secretId ?? `AKID${randomBytes(16).toString('hex')}`;
    this.secretKey = o.secretKey ?? randomBytes(16).toString('hex');
    this.sdkAppId = o.sdkAppId ?? '1400006666';
  }

  static async start(o: TencentSmsEmulatorOptions = {}): Promise<TencentSmsEmulator> {
    const emu = new TencentSmsEmulator(o);
    await emu.listen();
    return emu;
  }

  /** An approved template; its variables are the `{1}`, `{2}`… placeholders of `text`. */
  addTemplate(id: string, text: string): void {
    this.templates.set(id, new Set([...text.matchAll(/\{(\d+)\}/g)].map((m) => m[1])).size);
  }

  addSign(name: string): void {
    this.signs.add(name);
  }

  protected override handle(req: EmulatorRequest, fault: SmsFault | undefined): EmulatorAnswer {
    const RequestId = randomUUID();
    if (fault?.kind === 'http') return smsAnswer(fault.status, { Response: { Error: { Code: fault.code ?? 'InternalError', Message: 'gateway error' }, RequestId } });
    try {
      this.authenticate(req);
      if (fault?.kind === 'code' && !fault.phone) throw new TencentFail(fault.code, fault.message ?? fault.code);
      if (req.headers['x-tc-action'] !== 'SendSms') throw new TencentFail('InvalidAction', 'The requested action does not exist.');
      if (req.headers['x-tc-version'] !== '2021-01-11') throw new TencentFail('NoSuchVersion', 'The requested version does not exist.');
      const perNumberFault = fault?.kind === 'code' ? fault : undefined;
      return smsAnswer(200, { Response: { SendStatusSet: this.sendSms(req.body, perNumberFault), RequestId } });
    } catch (err) {
      if (!(err instanceof TencentFail)) throw err;
      return smsAnswer(200, { Response: { Error: { Code: err.code, Message: err.message }, RequestId } });
    }
  }

  private authenticate(req: EmulatorRequest): void {
    const auth = parseTc3(req.headers.authorization);
    if (!auth) throw new TencentFail('AuthFailure.SignatureFailure', 'The provided credentials could not be validated.');
    if (auth.secretId !== this.secretId) throw new TencentFail('AuthFailure.SecretIdNotFound', 'The SecretId is not found.');
    const timestamp = String(req.headers['x-tc-timestamp'] ?? '');
    const ts = /^\d+$/.test(timestamp) ? Number(timestamp) : NaN;
    if (!Number.isFinite(ts) || Math.abs(ts - this.now().getTime() / 1000) > SKEW_S) {
      throw new TencentFail('AuthFailure.SignatureExpire', 'Signature expired. Timestamp and server time cannot differ by more than 5 minutes.');
    }
    const signedOk = auth.signedHeaders.includes('content-type') && auth.signedHeaders.includes('host') && auth.service === 'sms';
    const dateOk = new Date(ts * 1000).toISOString().slice(0, 10) === auth.date;
    const headerValue = (name: string): string => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(',') : (v ?? '');
    };
    if (!signedOk || !dateOk || !sameText(tc3Expected(auth, headerValue, req.body, timestamp, this.secretKey), auth.signature)) {
      throw new TencentFail('AuthFailure.SignatureFailure', 'The provided credentials could not be validated. Please check your signature is correct.');
    }
  }

  private sendSms(raw: Buffer, fault: { code: string; message?: string; phone?: string } | undefined): object[] {
    let body: SendSmsBody;
    try {
      body = JSON.parse(raw.toString('utf8')) as SendSmsBody;
    } catch {
      throw new TencentFail('InvalidParameter', 'The request body is not valid JSON.');
    }
    const phones = strings(body.PhoneNumberSet);
    const params = body.TemplateParamSet === undefined ? [] : strings(body.TemplateParamSet);
    if (!phones || phones.length === 0 || !params) throw new TencentFail('InvalidParameterValue.IncorrectPhoneNumber', 'PhoneNumberSet/TemplateParamSet must be string arrays.');
    if (phones.length > MAX_NUMBERS) throw new TencentFail('LimitExceeded.PhoneNumberCountLimit', 'more than 200 numbers in one request');
    if (body.SmsSdkAppId !== this.sdkAppId) throw new TencentFail('UnauthorizedOperation.SmsSdkAppIdVerifyFail', 'SmsSdkAppId verification failed.');
    const sign = typeof body.SignName === 'string' ? body.SignName : '';
    if (!this.signs.has(sign)) throw new TencentFail('FailedOperation.SignatureIncorrectOrUnapproved', 'signature incorrect or unapproved');
    const template = typeof body.TemplateId === 'string' ? body.TemplateId : '';
    const count = this.templates.get(template);
    if (count === undefined) throw new TencentFail('FailedOperation.TemplateIncorrectOrUnapproved', 'template incorrect or unapproved');
    if (params.length !== count) throw new TencentFail('FailedOperation.TemplateParamSetNotMatchApprovedTemplate', 'TemplateParamSet does not match the template');
    const context = typeof body.SessionContext === 'string' ? body.SessionContext : '';
    const sentAt = this.now();
    const batch: EmulatedSms[] = [];
    const set = phones.map((phone) => {
      const digits = mainlandDigits(phone);
      const e164 = digits ? `+86${digits}` : phone;
      const failed = (Code: string, Message: string): object => ({ SerialNo: '', PhoneNumber: e164, Fee: 0, SessionContext: context, Code, Message, IsoCode: 'CN' });
      if (!digits) return failed('InvalidParameterValue.IncorrectPhoneNumber', 'incorrect phone number');
      if (fault?.phone !== undefined && mainlandDigits(fault.phone) === digits) return failed(fault.code, fault.message ?? fault.code);
      const hit = this.countSend(digits);
      if (hit === 'minute') return failed('LimitExceeded.PhoneNumberThirtySecondLimit', 'the number exceeded its 30-second limit');
      if (hit === 'hour') return failed('LimitExceeded.PhoneNumberOneHourLimit', 'the number exceeded its hourly limit');
      if (hit === 'day') return failed('LimitExceeded.PhoneNumberDailyLimit', 'the number exceeded its daily limit');
      this.serialSeq += 1;
      const serial = `2640:${Date.now()}${String(this.serialSeq).padStart(8, '0')}`;
      batch.push({ messageId: serial, phone: digits, sign, template, params, outId: context || undefined, sentAt, status: 'waiting' });
      return { SerialNo: serial, PhoneNumber: e164, Fee: 1, SessionContext: context, Code: 'Ok', Message: 'send success', IsoCode: 'CN' };
    });
    if (batch.length > 0) this.record(batch);
    return set;
  }

  /** The status-report callback: one array per push, matched on `sid`. */
  protected override receiptBody(batch: readonly EmulatedSms[]): unknown {
    return batch.map((m) => {
      const f = this.receiptFields(m);
      return {
        user_receive_time: f.reportTime, nationcode: '86', mobile: m.phone, report_status: m.status === 'delivered' ? 'SUCCESS' : 'FAIL',
        errmsg: m.errCode ?? 'DELIVRD', description: f.errMessage, sid: m.messageId, ext: m.outId ?? '',
      };
    });
  }

  protected override isAck(body: unknown): boolean {
    return typeof body === 'object' && body !== null && (body as { result?: unknown }).result === 0;
  }
}
