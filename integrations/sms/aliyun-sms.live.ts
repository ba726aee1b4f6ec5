import axios, { type AxiosInstance } from 'axios';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { parseReceiptRows, stringParams, type SmsClient, type SmsReceiptBatch, type SmsSendContext, type SmsSendResult, type SmsTemplate } from './sms.client';
import { aliyunError, SmsOutcomeUnknownError, tooManyNumbers } from './sms.errors';
import { exchange, parseJson } from './sms.http';
import { acs3Authorization, acsCanonicalQuery, sha256Hex } from './sms.signing';

/** Aliyun Dysmsapi SendSms (2017-05-25), signed with ACS3-HMAC-SHA256 as the current OpenAPI SDK does. */

export interface AliyunSmsOptions {
  /** `https://dysmsapi.aliyuncs.com`, or the emulator's address. */
  endpoint: string;
  accessKeyId: string;
  accessKeySecret: string;
  /** `cn-hangzhou` unless told otherwise. */
  region?: string;
  timeoutMs: number;
  now?: () => Date;
}

const API_VERSION = '2017-05-25';
const MAX_NUMBERS = 1000;
const EMPTY_SHA256 = sha256Hex('');

const answerSchema = z.object({ Code: z.string(), Message: z.string().optional(), RequestId: z.string().optional(), BizId: z.string().optional() });

/**
 * One SmsReport row. Fields only compared or parsed are bounded here by what Aliyun sends; those that
 * end in a column (biz_id, err_code, err_msg) are fitted to it where they are written.
 */
const receiptRowSchema = z.object({
  phone_number: z.string().max(32),
  report_time: z.string().max(32),
  success: z.boolean(),
  err_code: z.string().optional().default(''),
  err_msg: z.string().optional().default(''),
  biz_id: z.string().min(1),
  // Aliyun takes OutIds under 256 characters; ours are digits.
  out_id: z.string().max(256).optional(),
});

/** `yyyy-MM-ddTHH:mm:ssZ`: Aliyun refuses milliseconds. */
const acsDate = (at: Date): string => `${at.toISOString().slice(0, 19)}Z`;

export class AliyunSmsClient implements SmsClient {
  readonly provider = 'aliyun' as const;
  readonly maxNumbersPerRequest = MAX_NUMBERS;
  readonly receiptAck = { code: 0, msg: '接收成功' } as const;
  private readonly http: AxiosInstance;
  private readonly now: () => Date;

  constructor(private readonly options: AliyunSmsOptions) {
    this.http = axios.create({ timeout: options.timeoutMs, maxRedirects: 0 });
    this.now = options.now ?? (() => new Date());
  }

  async send(to: string | readonly string[], template: SmsTemplate, context: SmsSendContext = {}): Promise<SmsSendResult> {
    const phones = typeof to === 'string' ? [to] : [...to];
    if (phones.length === 0 || phones.length > MAX_NUMBERS) {
      throw tooManyNumbers('aliyun', phones.length, MAX_NUMBERS);
    }
    const params = stringParams(template.params);
    const query: Record<string, string> = { PhoneNumbers: phones.join(','), SignName: template.sign, TemplateCode: template.id };
    if (params.length > 0) query.TemplateParam = JSON.stringify(Object.fromEntries(params));
    if (context.outId) query.OutId = context.outId;
    const { body } = await this.request('SendSms', query);
    const answer = answerSchema.safeParse(body);
    // A 2xx that is not Aliyun's JSON (a proxy page): the request got through, so it may have been sent.
    if (!answer.success) throw new SmsOutcomeUnknownError('Aliyun SendSms answered an unreadable body');
    const { Code, Message = '', RequestId = '', BizId } = answer.data;
    if (Code !== 'OK' || !BizId) throw aliyunError(Code, Message, this.now());
    return { provider: 'aliyun', requestId: RequestId, bizId: BizId, perNumber: phones.map((phone) => ({ phone, ok: true, serialNo: BizId })) };
  }

  parseReceipt(body: unknown): SmsReceiptBatch {
    return parseReceiptRows(body, receiptRowSchema, (r, index) => ({
      provider: 'aliyun',
      index,
      messageId: r.biz_id,
      phone: r.phone_number,
      success: r.success,
      errCode: r.err_code,
      errMessage: r.err_msg,
      reportedAt: r.report_time,
      outId: r.out_id || undefined,
    }), 'an Aliyun SmsReport batch');
  }

  /** The one HTTP exchange: RPC-style POST `/` with the business parameters in the signed query. */
  private async request(action: string, query: Record<string, string>): Promise<{ status: number; body: unknown }> {
    const url = new URL(this.options.endpoint);
    const headers: Record<string, string> = {
      host: url.host,
      'x-acs-action': action,
      'x-acs-version': API_VERSION,
      'x-acs-date': acsDate(this.now()),
      // A fresh nonce per attempt: a retried request is a new request (SignatureNonceUsed otherwise).
      'x-acs-signature-nonce': randomUUID(),
      'x-acs-content-sha256': EMPTY_SHA256,
      accept: 'application/json',
    };
    if (this.options.region) headers['x-acs-region-id'] = this.options.region;
    headers.Authorization = acs3Authorization(
      { method: 'POST', pathname: '/', query, headers, hashedPayload: EMPTY_SHA256 },
      this.options.accessKeyId,
      this.options.accessKeySecret,
    );
    const target = `${url.origin}/?${acsCanonicalQuery(query)}`;
    const answer = await exchange(this.http, { method: 'POST', url: target, headers, body: '', vendor: 'Aliyun SMS' });
    const body = parseJson(answer.text);
    if (answer.status >= 200 && answer.status < 300) return { status: answer.status, body };
    const parsed = answerSchema.safeParse(body);
    const retryAfter = Number(answer.headers['x-acs-retry-after']);
    const retryAfterMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : answer.status === 429 ? 1_000 : undefined;
    if (parsed.success) throw aliyunError(parsed.data.Code, parsed.data.Message ?? '', this.now(), retryAfterMs);
    throw aliyunError(`HTTP${answer.status}`, answer.text.slice(0, 200), this.now(), retryAfterMs);
  }
}
