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
  closeRefusal,
  isOrderAbsent,
  isResourceAbsent,
  NotificationRejectedError,
  parseErrorBody,
  ResponseVerificationError,
  toHubError,
  tradeBillRefusal,
} from './wechat-pay.errors';
import {
  AEAD_ALGORITHM,
  decryptAead,
  decryptPlatformCertificates,
  verifySignature,
  type EncryptedPlatformCertificate,
  type PlatformCertificate,
} from './wechat-pay.signing';
import { headerText, LiveWechatPayHttp } from './wechat-pay.live-http';
import { LiveRefunds } from './wechat-pay.live-refunds';
import { certificatesSchema, notificationSchema, refundNoticeSchema, ticketSchema, transactionSchema } from './wechat-pay.schemas';

export interface LiveWechatPayOptions {
  /** `https://api.mch.weixin.qq.com`, or the emulator's loopback address. */
  baseUrl: string;
  timeoutMs: number;
  now?: () => Date;
  log?: Logger;
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
  private readonly http: LiveWechatPayHttp;
  private readonly refunds: LiveRefunds;

  constructor(
    private readonly credentials: MerchantCredentials,
    private readonly options: LiveWechatPayOptions,
  ) {
    this.mchid = credentials.mchid;
    this.appid = credentials.appid;
    this.http = new LiveWechatPayHttp(credentials, options, options.now ?? (() => new Date()), options.log);
    this.refunds = new LiveRefunds(this.http);
  }

  async queryOrder(outTradeNo: string): Promise<WechatPayTransaction | null> {
    const res = await this.http.request('GET', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}?mchid=${encodeURIComponent(this.mchid)}`);
    if (isOrderAbsent(res.status, res.body)) return null;
    const data = this.http.verifiedJson(res, transactionSchema, 'order query');
    if (data.out_trade_no !== outTradeNo) throw new ResponseVerificationError(`order query for ${outTradeNo} answered ${data.out_trade_no}`);
    return data as WechatPayTransaction;
  }

  async closeOrder(outTradeNo: string): Promise<void> {
    const res = await this.http.request('POST', `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}/close`, JSON.stringify({ mchid: this.mchid }));
    if (res.status >= 200 && res.status < 300) {
      this.http.verify(res, 'order close');
      return;
    }
    const refusal = closeRefusal(res.status, res.body, outTradeNo);
    if (refusal !== 'already-closed') throw refusal;
  }

  async applyTradeBill(billDate: string, options: { billType?: BillType; gzip?: boolean } = {}): Promise<BillApplication> {
    const query = `bill_date=${encodeURIComponent(billDate)}&bill_type=${options.billType ?? 'ALL'}${options.gzip ? '&tar_type=GZIP' : ''}`;
    const res = await this.http.request('GET', `/v3/bill/tradebill?${query}`);
    if (res.status < 200 || res.status >= 300) {
      const refusal = tradeBillRefusal(res.status, res.body, billDate, this.http.now());
      if (refusal === 'no-statement') return { kind: 'no-statement' };
      throw refusal;
    }
    const ticket = this.http.verifiedJson(res, ticketSchema, 'trade bill application');
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
    if (url.origin !== this.http.origin) throw new PermanentError('BILL_URL_FOREIGN', `the bill download_url is on ${url.origin}, not ${this.http.origin}`);
    const res = await this.http.send<Readable>('GET', url.href, '', 'stream');
    const stream = res.data;
    const contentType = headerText(res.headers['content-type']);
    if (res.status < 200 || res.status >= 300) {
      const body = await readCapped(stream, 64 * 1024);
      throw toHubError(res.status, parseErrorBody(body));
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
    const check = verifySignature({ headers, body: rawBody, platformKeys: this.credentials.platformKeys, now: this.http.now() });
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
    const res = await this.http.request('GET', '/v3/certificates');
    if (isResourceAbsent(res.status, res.body)) return [];
    const { data } = this.http.verifiedJson(res, certificatesSchema, 'platform certificates');
    try {
      return decryptPlatformCertificates(this.credentials.apiV3Key, data as EncryptedPlatformCertificate[]);
    } catch (err) {
      throw new ResponseVerificationError(`platform certificates: ${err instanceof Error ? err.message : String(err)}`);
    }
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
