import axios, { type AxiosInstance, type AxiosResponse, isAxiosError } from 'axios';
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { z } from 'zod';
import { PermanentError, RetryableError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type {
  BillApplication,
  BillTicket,
  BillType,
  CreateRefundRequest,
  MerchantCredentials,
  SignedHeaders,
  VerifiedNotification,
  WechatPayClient,
  WechatPayRefund,
  WechatPayTransaction,
} from './wechat-pay.client';
import {
  BillHashMismatchError,
  NotificationRejectedError,
  OrderPaidError,
  ResponseVerificationError,
  STATEMENT_RETRY_MS,
  StatementNotReadyError,
  toHubError,
  type WechatPayErrorBody,
} from './wechat-pay.errors';
import {
  AEAD_ALGORITHM,
  canonicalUrl,
  decryptAead,
  decryptPlatformCertificates,
  signRequest,
  verifySignature,
  type EncryptedPlatformCertificate,
  type PlatformCertificate,
} from './wechat-pay.signing';
import { LiveRefunds } from './wechat-pay.live-refunds';
import { certificatesSchema, notificationSchema, refundNoticeSchema, ticketSchema, transactionSchema } from './wechat-pay.schemas';

export interface LiveWechatPayOptions {
  /** `https://api.mch.weixin.qq.com`, or the emulator's loopback address. */
  baseUrl: string;
  timeoutMs: number;
  now?: () => Date;
  log?: Logger;
}

interface RawResponse {
  status: number;
  headers: SignedHeaders & { 'content-type'?: string };
  body: Buffer;
}

/** The body of an answer that is not data: WeChat's `{code, message}`, or null for HTML and other pages. */
function errorBody(body: Buffer): WechatPayErrorBody | null {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (parsed && typeof parsed === 'object') {
      const { code, message } = parsed as Record<string, unknown>;
      if (typeof code === 'string') return { code, message: typeof message === 'string' ? message : undefined };
    }
  } catch {
    // not JSON (an HTML error page): the status alone decides
  }
  return null;
}

function headerText(value: unknown): string | undefined {
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

function isGzip(contentType: string | undefined, head: Buffer | null): boolean {
  return /gzip/i.test(contentType ?? '') || (head !== null && head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b);
}

/** The first two bytes of a stream, put back so the consumer still reads everything; null for an empty body. */
function peekHead(stream: Readable, timeoutMs: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.destroy();
      done(null, new Error(`no bill bytes within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (result: Buffer | null, err?: unknown): void => {
      clearTimeout(timer);
      stream.off('readable', onReadable).off('end', onEnd).off('error', onError);
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve(result);
    };
    const onReadable = (): void => {
      const head = stream.read(2) as Buffer | null;
      if (head === null) return;
      stream.unshift(head);
      done(head);
    };
    const onEnd = (): void => done(null);
    const onError = (err: unknown): void => done(null, err);
    stream.on('readable', onReadable).on('end', onEnd).on('error', onError);
  });
}

/** The serial a reopened stored callback reports: its headers were checked on arrival and not kept. */
const STORED_SERIAL = 'stored';

export class LiveWechatPayClient implements WechatPayClient {
  readonly mchid: string;
  readonly appid: string;
  private readonly http: AxiosInstance;
  private readonly origin: string;
  private readonly now: () => Date;
  private readonly refunds = new LiveRefunds<RawResponse>({
    request: (method, pathAndQuery, body) => this.request(method, pathAndQuery, body),
    verifiedJson: (res, schema, what) => this.verifiedJson(res, schema, what),
    errorBody: (res) => errorBody(res.body),
    now: () => this.now(),
  });

  constructor(
    private readonly credentials: MerchantCredentials,
    private readonly options: LiveWechatPayOptions,
  ) {
    this.mchid = credentials.mchid;
    this.appid = credentials.appid;
    this.origin = new URL(options.baseUrl).origin;
    this.now = options.now ?? (() => new Date());
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

  async queryOrder(outTradeNo: string): Promise<WechatPayTransaction | null> {
    const res = await this.request('GET', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}?mchid=${encodeURIComponent(this.mchid)}`);
    if (res.status === 404) {
      const code = errorBody(res.body)?.code;
      if (code === 'ORDER_NOT_EXIST' || code === 'RESOURCE_NOT_EXISTS') return null;
    }
    const data = this.verifiedJson(res, transactionSchema, 'order query');
    if (data.out_trade_no !== outTradeNo) throw new ResponseVerificationError(`order query for ${outTradeNo} answered ${data.out_trade_no}`);
    return data as WechatPayTransaction;
  }

  async closeOrder(outTradeNo: string): Promise<void> {
    const res = await this.request('POST', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}/close`, JSON.stringify({ mchid: this.mchid }));
    if (res.status >= 200 && res.status < 300) {
      this.verify(res, 'order close');
      return;
    }
    const body = errorBody(res.body);
    if (body?.code === 'ORDER_PAID') throw new OrderPaidError(outTradeNo);
    // Closing twice is allowed; some answers say so with ORDER_CLOSED instead of a second 204.
    if (body?.code === 'ORDER_CLOSED') return;
    throw toHubError(res.status, body);
  }

  async applyTradeBill(billDate: string, options: { billType?: BillType; gzip?: boolean } = {}): Promise<BillApplication> {
    const query = `bill_date=${encodeURIComponent(billDate)}&bill_type=${options.billType ?? 'ALL'}${options.gzip ? '&tar_type=GZIP' : ''}`;
    const res = await this.request('GET', `/v3/bill/tradebill?${query}`);
    if (res.status < 200 || res.status >= 300) {
      const body = errorBody(res.body);
      if (body?.code === 'NO_STATEMENT_EXIST') return { kind: 'no-statement' };
      if (body?.code === 'STATEMENT_CREATING') throw new StatementNotReadyError(billDate, this.now().getTime() + STATEMENT_RETRY_MS);
      throw toHubError(res.status, body);
    }
    const ticket = this.verifiedJson(res, ticketSchema, 'trade bill application');
    return { kind: 'ticket', ticket: { hash_type: 'SHA1', hash_value: ticket.hash_value, download_url: ticket.download_url } };
  }

  async downloadBill(ticket: BillTicket): Promise<Readable> {
    let url: URL;
    try {
      url = new URL(ticket.download_url);
    } catch {
      throw new PermanentError('BILL_URL_INVALID', 'the bill download_url is not a URL');
    }
    // The request is signed with the merchant key: never send it anywhere but WeChat itself.
    if (url.origin !== this.origin) throw new PermanentError('BILL_URL_FOREIGN', `the bill download_url is on ${url.origin}, not ${this.origin}`);
    const res = await this.send<Readable>('GET', url.href, '', 'stream');
    const stream = res.data;
    const contentType = headerText(res.headers['content-type']);
    if (res.status < 200 || res.status >= 300) {
      const body = await readCapped(stream, 64 * 1024);
      throw toHubError(res.status, errorBody(body));
    }
    // Bill files are unsigned: the SHA1 of the uncompressed bytes, checked at the end, is what protects them.
    const head = await peekHead(stream, this.options.timeoutMs).catch((err: unknown) => {
      throw new RetryableError('bill download interrupted', { cause: err });
    });
    return hashedBill(stream, isGzip(contentType, head), ticket.hash_value.toLowerCase(), this.options.timeoutMs);
  }

  createRefund(request: CreateRefundRequest): Promise<WechatPayRefund> {
    return this.refunds.create(request);
  }

  queryRefund(outRefundNo: string): Promise<WechatPayRefund | null> {
    return this.refunds.query(outRefundNo);
  }

  verifyNotification(headers: SignedHeaders, rawBody: Buffer): VerifiedNotification {
    const check = verifySignature({ headers, body: rawBody, platformKeys: this.credentials.platformKeys, now: this.now() });
    if (!check.ok) throw new NotificationRejectedError(`callback signature: ${check.reason}`);
    return this.open(rawBody, check.serial);
  }

  openStoredNotification(rawBody: Buffer): VerifiedNotification {
    return this.open(rawBody, STORED_SERIAL);
  }

  /** Parses the envelope, decrypts the resource with the APIv3 key and checks it: never before the signature was. */
  private open(rawBody: Buffer, serial: string): VerifiedNotification {
    let envelope: z.infer<typeof notificationSchema>;
    try {
      envelope = notificationSchema.parse(JSON.parse(rawBody.toString('utf8')));
    } catch {
      throw new NotificationRejectedError('callback body is not a notification envelope');
    }
    const { resource } = envelope;
    if (resource.algorithm !== AEAD_ALGORITHM) throw new NotificationRejectedError(`callback resource algorithm ${resource.algorithm} is not ${AEAD_ALGORITHM}`);
    let plain: unknown;
    try {
      plain = JSON.parse(decryptAead(this.credentials.apiV3Key, resource).toString('utf8'));
    } catch (err) {
      throw new NotificationRejectedError(`callback resource cannot be decrypted: ${err instanceof Error ? err.message : String(err)}`);
    }
    const type = resource.original_type ?? envelope.event_type.split('.')[0]?.toLowerCase();
    const base = { id: envelope.id, create_time: envelope.create_time, event_type: envelope.event_type, summary: envelope.summary, serial };
    const schema = type === 'transaction' ? transactionSchema : type === 'refund' ? refundNoticeSchema : undefined;
    if (!schema) throw new NotificationRejectedError(`callback resource type ${String(type)} is neither transaction nor refund`);
    const parsed = schema.safeParse(plain);
    if (!parsed.success) throw new NotificationRejectedError(`callback ${type} resource is malformed: ${parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ')}`);
    if (parsed.data.mchid !== undefined && parsed.data.mchid !== this.mchid) throw new NotificationRejectedError(`callback is for merchant ${parsed.data.mchid}, not ${this.mchid}`);
    if (type === 'transaction') return { ...base, kind: 'transaction', resource: parsed.data as WechatPayTransaction };
    return { ...base, kind: 'refund', resource: parsed.data as z.infer<typeof refundNoticeSchema> };
  }

  /** `GET /v3/certificates`, decrypted; empty for a merchant in public-key mode (404 RESOURCE_NOT_EXISTS). */
  async fetchPlatformCertificates(): Promise<PlatformCertificate[]> {
    const res = await this.request('GET', '/v3/certificates');
    if (res.status === 404 && errorBody(res.body)?.code === 'RESOURCE_NOT_EXISTS') return [];
    const { data } = this.verifiedJson(res, certificatesSchema, 'platform certificates');
    try {
      return decryptPlatformCertificates(this.credentials.apiV3Key, data as EncryptedPlatformCertificate[]);
    } catch (err) {
      throw new ResponseVerificationError(`platform certificates: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** One signed API call, its raw answer; non-2xx answers are left to the caller, which knows its codes. */
  private async request(method: 'GET' | 'POST', pathAndQuery: string, body = ''): Promise<RawResponse> {
    const res = await this.send<ArrayBuffer>(method, `${this.origin}${pathAndQuery}`, body, 'arraybuffer');
    return { status: res.status, headers: pickHeaders(res.headers), body: Buffer.from(res.data ?? new ArrayBuffer(0)) };
  }

  private async send<T>(method: 'GET' | 'POST', url: string, body: string, responseType: 'arraybuffer' | 'stream'): Promise<AxiosResponse<T>> {
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

  private verify(res: RawResponse, what: string): void {
    const check = verifySignature({ headers: res.headers, body: res.body, platformKeys: this.credentials.platformKeys, now: this.now() });
    if (!check.ok) {
      this.options.log?.warn({ mchid: this.mchid, what, reason: check.reason }, 'WeChat Pay response failed verification');
      throw new ResponseVerificationError(`WeChat Pay ${what}: ${check.reason}`);
    }
  }

  /** A 2xx verified then parsed; anything else mapped to the hub's errors. */
  private verifiedJson<S extends z.ZodType>(res: RawResponse, schema: S, what: string): z.output<S> {
    if (res.status < 200 || res.status >= 300) throw toHubError(res.status, errorBody(res.body));
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

/** At most `limit` bytes of an error body, the rest discarded. */
async function readCapped(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      if (size < limit) chunks.push(buf.subarray(0, limit - size));
      size += buf.length;
    }
  } catch {
    // a broken error page still has a status
  }
  return Buffer.concat(chunks);
}

/**
 * The bill's uncompressed bytes, hashed as they pass. Whatever cuts the download short (a
 * truncated gzip, a dropped connection, a short body, a body that stalls for `idleMs`) ends the
 * stream with BillHashMismatchError, so a consumer never mistakes a partial file for a whole one.
 */
function hashedBill(source: Readable, gzip: boolean, expected: string, idleMs: number): Readable {
  const hash = createHash('sha1');
  const out = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      const actual = hash.digest('hex');
      callback(actual === expected ? null : new BillHashMismatchError(expected, actual));
    },
  });
  const gunzip = gzip ? createGunzip() : undefined;
  const fail = (): void => {
    if (out.destroyed) return;
    source.destroy();
    gunzip?.destroy();
    let partial = 'unknown';
    try {
      partial = hash.copy().digest('hex');
    } catch {
      // already digested: the flush decided
    }
    out.destroy(new BillHashMismatchError(expected, `${partial} (download cut short)`));
  };
  // axios's timeout ends once the headers are in; a body that stops arriving must not hang the job.
  // Silence while our own consumer holds the stream back (the source paused) is not a stall.
  const idle = setTimeout(function check() {
    if (source.readableFlowing === false) idle.refresh();
    else fail();
  }, idleMs);
  idle.unref();
  source.on('data', () => idle.refresh());
  source.on('end', () => clearTimeout(idle));
  source.on('error', fail);
  gunzip?.on('error', fail);
  source.on('aborted', fail);
  source.on('close', () => {
    if (!source.readableEnded) fail();
  });
  // A consumer that stops reading releases the connection.
  out.on('close', () => {
    clearTimeout(idle);
    if (!source.readableEnded) source.destroy();
  });
  if (gunzip) source.pipe(gunzip).pipe(out);
  else source.pipe(out);
  return out;
}
