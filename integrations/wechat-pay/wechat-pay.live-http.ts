import axios, { type AxiosInstance, type AxiosResponse, isAxiosError } from 'axios';
import type { z } from 'zod';
import { PermanentError, RetryableError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type { MerchantCredentials, SignedHeaders } from './wechat-pay.client';
import { parseErrorBody, ResponseVerificationError, toHubError } from './wechat-pay.errors';
import { canonicalUrl, signRequest, verifySignature } from './wechat-pay.signing';

export interface RawResponse {
  status: number;
  headers: SignedHeaders & { 'content-type'?: string };
  body: Buffer;
}

/** What a WeChat Pay API call needs of the live client: signed requests, verified answers, its clock. */
export interface WechatPayHttp {
  /** One signed API call, its raw answer; non-2xx answers are left to the caller, which knows its codes. */
  request(method: 'GET' | 'POST', pathAndQuery: string, body?: string): Promise<RawResponse>;
  /** A 2xx verified then parsed; anything else mapped to the hub's errors. */
  verifiedJson<S extends z.ZodType>(res: RawResponse, schema: S, what: string): z.output<S>;
  now(): Date;
}

export function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

const SIGNED_HEADER_NAMES = ['wechatpay-timestamp', 'wechatpay-nonce', 'wechatpay-signature', 'wechatpay-serial', 'content-type'] as const;

function pickHeaders(headers: AxiosResponse['headers']): RawResponse['headers'] {
  const picked: Record<string, string> = {};
  for (const name of SIGNED_HEADER_NAMES) {
    const value = headerText((headers as Record<string, unknown>)[name]);
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/** One merchant's signed HTTP to WeChat Pay (or the emulator at `baseUrl`). */
export class LiveWechatPayHttp implements WechatPayHttp {
  readonly origin: string;
  private readonly http: AxiosInstance;

  constructor(
    private readonly credentials: MerchantCredentials,
    options: { baseUrl: string; timeoutMs: number },
    readonly now: () => Date,
    private readonly log?: Logger,
  ) {
    this.origin = new URL(options.baseUrl).origin;
    this.http = axios.create({
      timeout: options.timeoutMs,
      validateStatus: () => true,
      // Signatures cover the exact bytes: no parsing, no re-serialising, no redirect to an unsigned place.
      transformResponse: [],
      transformRequest: [],
      maxRedirects: 0,
      headers: { Accept: 'application/json', 'User-Agent': 'jobhub-wechat-pay/1' },
    });
  }

  async request(method: 'GET' | 'POST', pathAndQuery: string, body = ''): Promise<RawResponse> {
    const res = await this.send<ArrayBuffer>(method, `${this.origin}${pathAndQuery}`, body, 'arraybuffer');
    return { status: res.status, headers: pickHeaders(res.headers), body: Buffer.from(res.data ?? new ArrayBuffer(0)) };
  }

  async send<T>(method: 'GET' | 'POST', url: string, body: string, responseType: 'arraybuffer' | 'stream'): Promise<AxiosResponse<T>> {
    const authorization = signRequest(this.credentials, { method, canonicalUrl: canonicalUrl(url), body, now: this.now() });
    const headers: Record<string, string> = { Authorization: authorization };
    if (body) headers['Content-Type'] = 'application/json';
    try {
      return await this.http.request<T>({ method, url, headers, responseType, data: body ? Buffer.from(body, 'utf8') : undefined });
    } catch (err) {
      if (!isAxiosError(err)) throw err;
      // Not the AxiosError itself as cause: it carries the request, Authorization header included, into logs.
      const cause = new Error(`${err.code ?? 'network error'}: ${err.message}`);
      throw new RetryableError(`WeChat Pay ${method} ${new URL(url).pathname}: ${err.code ?? 'network error'}`, { cause });
    }
  }

  verify(res: RawResponse, what: string): void {
    const check = verifySignature({ headers: res.headers, body: res.body, platformKeys: this.credentials.platformKeys, now: this.now() });
    if (!check.ok) {
      this.log?.warn({ mchid: this.credentials.mchid, what, reason: check.reason }, 'WeChat Pay response failed verification');
      throw new ResponseVerificationError(`WeChat Pay ${what}: ${check.reason}`);
    }
  }

  verifiedJson<S extends z.ZodType>(res: RawResponse, schema: S, what: string): z.output<S> {
    if (res.status < 200 || res.status >= 300) throw toHubError(res.status, parseErrorBody(res.body));
    this.verify(res, what);
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new PermanentError('WECHAT_PAY_BAD_RESPONSE', `WeChat Pay ${what}: signed body is not JSON`);
    }
    const result = schema.safeParse(parsed);
    if (!result.success) {
      throw new PermanentError('WECHAT_PAY_BAD_RESPONSE', `WeChat Pay ${what}: unexpected fields ${result.error.issues.map((i) => i.path.join('.') || '(root)').join(', ')}`);
    }
    return result.data;
  }
}
