import axios, { type AxiosInstance } from 'axios';
import { z } from 'zod';
import { RetryableError } from '../../lib/errors';
import { parseReceiptRows, stringParams, type SmsClient, type SmsNumberResult, type SmsReceiptBatch, type SmsSendContext, type SmsSendResult, type SmsTemplate } from './sms.client';
import { SmsOutcomeUnknownError, tencentError, tencentHttpError, tooManyNumbers } from './sms.errors';
import { e164, exchange, parseJson } from './sms.http';
import { tc3Authorization } from './sms.signing';

/** Tencent Cloud SMS SendSms (API 3.0, 2021-01-11), signed with TC3-HMAC-SHA256. */

export interface TencentSmsOptions {
  /** `https://sms.tencentcloudapi.com`, or the emulator's address. */
  endpoint: string;
  secretId: string;
  secretKey: string;
  /** `ap-guangzhou`, `ap-beijing` or `ap-nanjing`. */
  region: string;
  sdkAppId: string;
  timeoutMs: number;
  now?: () => Date;
}

const API_VERSION = '2021-01-11';
const SERVICE = 'sms';
const MAX_NUMBERS = 200;
const CONTENT_TYPE = 'application/json; charset=utf-8';

const errorSchema = z.object({ Response: z.object({ Error: z.object({ Code: z.string(), Message: z.string().optional() }), RequestId: z.string().optional() }) });
const sendSchema = z.object({
  Response: z.object({
    SendStatusSet: z.array(z.object({ SerialNo: z.string(), PhoneNumber: z.string(), Fee: z.number().optional(), Code: z.string(), Message: z.string().optional() })),
    RequestId: z.string(),
  }),
});
/**
 * One status-report row. Fields only compared or parsed are bounded here by what Tencent sends; those
 * that end in a column (sid, errmsg, description) are fitted to it where they are written.
 */
const receiptRowSchema = z.object({
  user_receive_time: z.string().max(32),
  nationcode: z.string().regex(/^\d{1,4}$/).optional().default('86'),
  mobile: z.string().max(32),
  report_status: z.enum(['SUCCESS', 'FAIL']),
  errmsg: z.string().optional().default(''),
  description: z.string().optional().default(''),
  sid: z.string().min(1),
  // The SessionContext echoed back: ours are digits, anything this long is no echo of ours.
  ext: z.string().max(512).optional(),
});

export class TencentSmsClient implements SmsClient {
  readonly provider = 'tencent' as const;
  readonly maxNumbersPerRequest = MAX_NUMBERS;
  readonly receiptAck = { result: 0, errmsg: 'OK' } as const;
  private readonly http: AxiosInstance;
  private readonly now: () => Date;

  constructor(private readonly options: TencentSmsOptions) {
    this.http = axios.create({ timeout: options.timeoutMs, maxRedirects: 0 });
    this.now = options.now ?? (() => new Date());
  }

  async send(to: string | readonly string[], template: SmsTemplate, context: SmsSendContext = {}): Promise<SmsSendResult> {
    const phones = typeof to === 'string' ? [to] : [...to];
    if (phones.length === 0 || phones.length > MAX_NUMBERS) {
      throw tooManyNumbers('tencent', phones.length, MAX_NUMBERS);
    }
    const payload: Record<string, unknown> = {
      PhoneNumberSet: phones.map(e164),
      SmsSdkAppId: this.options.sdkAppId,
      TemplateId: template.id,
      SignName: template.sign,
      TemplateParamSet: stringParams(template.params).map(([, v]) => v),
    };
    if (context.outId) payload.SessionContext = context.outId;
    const body = await this.request('SendSms', payload);
    const parsed = sendSchema.safeParse(body);
    // A 200 that is not Tencent's JSON: the request got through, so it may have been sent.
    if (!parsed.success) throw new SmsOutcomeUnknownError('Tencent SendSms answered an unreadable body');
    const byNumber = new Map(parsed.data.Response.SendStatusSet.map((s) => [s.PhoneNumber, s]));
    const now = this.now();
    // A 200 without Response.Error still carries one verdict per number: every one is read.
    const perNumber = phones.map((phone): SmsNumberResult => {
      const s = byNumber.get(e164(phone));
      if (!s) return { phone, ok: false, code: 'MISSING', message: 'no SendStatusSet entry', error: new RetryableError(`Tencent SMS gave no status for ${phone}`) };
      if (s.Code === 'Ok') return { phone, ok: true, serialNo: s.SerialNo, fee: s.Fee };
      const message = s.Message ?? s.Code;
      return { phone, ok: false, code: s.Code, message, error: tencentError(s.Code, message, now) };
    });
    return { provider: 'tencent', requestId: parsed.data.Response.RequestId, perNumber };
  }

  parseReceipt(body: unknown): SmsReceiptBatch {
    return parseReceiptRows(body, receiptRowSchema, (r, index) => ({
      provider: 'tencent',
      index,
      messageId: r.sid,
      phone: `+${r.nationcode}${r.mobile}`,
      success: r.report_status === 'SUCCESS',
      errCode: r.errmsg,
      errMessage: r.description,
      reportedAt: r.user_receive_time,
      outId: r.ext || undefined,
    }), 'a Tencent status report');
  }

  /** The one HTTP exchange: POST `/` with a JSON body whose exact bytes are hashed into the signature. */
  private async request(action: string, payload: Record<string, unknown>): Promise<unknown> {
    const url = new URL(this.options.endpoint);
    const text = JSON.stringify(payload);
    const timestamp = Math.floor(this.now().getTime() / 1000);
    const headers: Record<string, string> = {
      Host: url.host,
      'Content-Type': CONTENT_TYPE,
      'X-TC-Action': action,
      'X-TC-Version': API_VERSION,
      'X-TC-Timestamp': String(timestamp),
      'X-TC-Region': this.options.region,
      Authorization: tc3Authorization({
        secretId: this.options.secretId, secretKey: this.options.secretKey, service: SERVICE, host: url.host, contentType: CONTENT_TYPE, payload: text, timestamp,
      }),
    };
    const answer = await exchange(this.http, { method: 'POST', url: `${url.origin}/`, headers, body: text, vendor: 'Tencent SMS' });
    const body = parseJson(answer.text);
    const error = errorSchema.safeParse(body);
    if (error.success) throw tencentError(error.data.Response.Error.Code, error.data.Response.Error.Message ?? '', this.now());
    if (answer.status < 200 || answer.status >= 300) {
      throw tencentHttpError(answer.status, answer.text.slice(0, 200), this.now());
    }
    return body;
  }
}
