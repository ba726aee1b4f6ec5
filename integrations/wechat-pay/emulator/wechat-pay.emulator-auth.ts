import { createCipheriv, randomBytes, randomUUID, sign as rsaSign, verify as rsaVerify, type KeyObject } from 'node:crypto';

/**
 * The emulator's side of WeChat Pay's cryptography, written from WeChat's documentation and not from
 * the hub's client, so that a mistake in one does not hide in the other: checking the merchant's
 * `WECHATPAY2-SHA256-RSA2048` Authorization, signing answers and callbacks with a platform key,
 * AEAD_AES_256_GCM resources and a self-signed platform certificate in DER.
 */

export const AUTH_SCHEME = 'WECHATPAY2-SHA256-RSA2048';
/** WeChat refuses requests whose timestamp is more than five minutes off. */
export const MAX_SKEW_SECONDS = 300;

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export function nonce(length: number): string {
  let out = '';
  for (const b of randomBytes(length)) out += NONCE_ALPHABET[b % NONCE_ALPHABET.length];
  return out;
}

/** `k="v"` pairs of an Authorization value, whatever their order (official SDKs disagree on it). */
export function parseAuthorizationParams(value: string): Map<string, string> | undefined {
  if (!value.startsWith(`${AUTH_SCHEME} `)) return undefined;
  const params = new Map<string, string>();
  const pair = /\s*([a-z_]+)="([^"]*)"\s*(?:,|$)/gy;
  const rest = value.slice(AUTH_SCHEME.length + 1);
  let consumed = 0;
  for (let m = pair.exec(rest); m; m = pair.exec(rest)) {
    const [whole, key, v] = m as unknown as [string, string, string];
    if (params.has(key)) return undefined;
    params.set(key, v);
    consumed += whole.length;
  }
  return consumed === rest.length ? params : undefined;
}

export interface SignedRequest {
  method: string;
  /** Path and query exactly as received (the canonical URL WeChat signs). */
  rawUrl: string;
  body: Buffer;
  authorization: string | undefined;
  /** Seconds since the epoch, the real clock: the client signs with its own. */
  nowSeconds: number;
}

export type AuthResult = { ok: true; mchid: string } | { ok: false; message: string };

/**
 * Checks a request the way WeChat's gateway does: every parameter present, a known merchant serial,
 * a fresh timestamp, SHA256withRSA over `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`, and the header's
 * mchid equal to the one the request names in its query or JSON body.
 */
export function verifyMerchantRequest(req: SignedRequest, merchantKey: (mchid: string) => { serialNo: string; publicKey: KeyObject } | undefined): AuthResult {
  const params = req.authorization ? parseAuthorizationParams(req.authorization) : undefined;
  if (!params) return { ok: false, message: 'Authorization 头格式错误' };
  const mchid = params.get('mchid');
  const nonceStr = params.get('nonce_str');
  const timestamp = params.get('timestamp');
  const serial = params.get('serial_no');
  const signature = params.get('signature');
  if (!mchid || !nonceStr || !timestamp || !serial || !signature) return { ok: false, message: 'Authorization 头缺少参数' };
  const merchant = merchantKey(mchid);
  if (!merchant) return { ok: false, message: '商户号不存在' };
  if (serial.toUpperCase() !== merchant.serialNo.toUpperCase()) return { ok: false, message: '商户证书序列号有误' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, message: '时间戳格式错误' };
  if (Math.abs(req.nowSeconds - Number(timestamp)) > MAX_SKEW_SECONDS) return { ok: false, message: '请求时间戳与服务器时间偏差超过 5 分钟' };
  const message = Buffer.concat([Buffer.from(`${req.method}\n${req.rawUrl}\n${timestamp}\n${nonceStr}\n`), req.body, Buffer.from('\n')]);
  let valid = false;
  try {
    valid = rsaVerify('sha256', message, merchant.publicKey, Buffer.from(signature, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, message: '签名错误' };
  const named = namedMchid(req.rawUrl, req.body);
  if (named !== undefined && named !== mchid) return { ok: false, message: 'Authorization 中的商户号与请求中的商户号不一致' };
  return { ok: true, mchid };
}

/** The mchid a request names: `?mchid=` or `{"mchid":…}`. */
function namedMchid(rawUrl: string, body: Buffer): string | undefined {
  const query = rawUrl.includes('?') ? new URLSearchParams(rawUrl.slice(rawUrl.indexOf('?') + 1)) : undefined;
  const fromQuery = query?.get('mchid');
  if (fromQuery !== null && fromQuery !== undefined) return fromQuery;
  if (body.length === 0) return undefined;
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (parsed && typeof parsed === 'object' && 'mchid' in parsed) return String((parsed as { mchid: unknown }).mchid);
  } catch {
    return undefined;
  }
  return undefined;
}

export interface WechatpaySignatureHeaders {
  'Wechatpay-Timestamp': string;
  'Wechatpay-Nonce': string;
  'Wechatpay-Signature': string;
  'Wechatpay-Serial': string;
}

/** Signs `TIMESTAMP\nNONCE\nBODY\n` (a 204 over the empty body) the way WeChat signs answers and callbacks. */
export function signatureHeaders(serial: string, privateKey: KeyObject, body: Buffer | string, nowSeconds: number): WechatpaySignatureHeaders {
  const ts = String(nowSeconds);
  const n = nonce(32);
  const message = Buffer.concat([Buffer.from(`${ts}\n${n}\n`), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), Buffer.from('\n')]);
  const signature = rsaSign('sha256', message, privateKey).toString('base64');
  return { 'Wechatpay-Timestamp': ts, 'Wechatpay-Nonce': n, 'Wechatpay-Signature': signature, 'Wechatpay-Serial': serial };
}

export interface EncryptedResource {
  algorithm: 'AEAD_AES_256_GCM';
  ciphertext: string;
  associated_data: string;
  nonce: string;
}

/** AEAD_AES_256_GCM with the APIv3 key as UTF-8 bytes; ciphertext = base64(ct ‖ 16-byte tag). */
export function encryptResource(apiV3Key: string, plaintext: string, associatedData: string): EncryptedResource {
  const iv = nonce(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(iv, 'utf8'));
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { algorithm: 'AEAD_AES_256_GCM', ciphertext: ct.toString('base64'), associated_data: associatedData, nonce: iv };
}

// A minimal DER writer: enough for one self-signed X.509 v3 certificate, which node:crypto can sign but not build.
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
const SHA256_WITH_RSA = seq(Buffer.from('06092a864886f70d01010b', 'hex'), Buffer.from('0500', 'hex'));

function utcTime(d: Date): Buffer {
  const iso = d.toISOString();
  const text = `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return tlv(0x17, Buffer.from(text, 'ascii'));
}

function commonName(cn: string): Buffer {
  return seq(tlv(0x31, seq(Buffer.from('0603550403', 'hex'), tlv(0x0c, Buffer.from(cn, 'utf8')))));
}

/** A self-signed X.509 v3 certificate (DER) over `key`, with the given 40-hex serial (first nibble < 8). */
export function makeSelfSignedCertificate(c: {
  serialHex: string;
  commonName: string;
  key: { privateKey: KeyObject; publicKey: KeyObject };
  notBefore: Date;
  notAfter: Date;
}): Buffer {
  const name = commonName(c.commonName);
  const tbs = seq(
    Buffer.from('a003020102', 'hex'),
    tlv(0x02, Buffer.from(c.serialHex, 'hex')),
    SHA256_WITH_RSA,
    name,
    seq(utcTime(c.notBefore), utcTime(c.notAfter)),
    name,
    c.key.publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = rsaSign('sha256', tbs, c.key.privateKey);
  return seq(tbs, SHA256_WITH_RSA, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
}

/** PEM text of a DER certificate. */
export function certificatePem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** Numeric suffixes WeChat appends to Request-ID for some errors. */
const ERROR_NUMBERS: Record<string, string> = { SIGN_ERROR: '268443699', FREQUENCY_LIMITED: '268447840', ORDER_NOT_EXIST: '268512771' };

/** `Request-ID`: `{id}` or, for some errors, `{id}-{numeric code}`. */
export function requestId(code?: string): string {
  const id = randomUUID().replace(/-/g, '').toUpperCase();
  const number = code ? ERROR_NUMBERS[code] : undefined;
  return number ? `${id}-${number}` : id;
}

/** The page a gateway in front of WeChat answers with, not WeChat's JSON. */
export function gatewayErrorPage(status: number): string {
  return `<html>\r\n<head><title>${status} Bad Gateway</title></head>\r\n<body>\r\n<center><h1>${status} Bad Gateway</h1></center>\r\n<hr><center>stgw</center>\r\n</body>\r\n</html>\r\n`;
}
