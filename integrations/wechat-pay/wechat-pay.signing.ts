import { createDecipheriv, createSign, createVerify, randomBytes, X509Certificate, type KeyObject } from 'node:crypto';
import type { SignedHeaders } from './wechat-pay.client';

/**
 * WeChat Pay API v3 cryptography on node:crypto, as pure functions (the clock is a parameter):
 * the request Authorization header, the signature of responses and callbacks, and the
 * AEAD_AES_256_GCM envelope of callbacks and platform certificates.
 */

export const AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048';
/** WeChat's clients refuse a response whose timestamp is further than this from their clock. */
export const MAX_CLOCK_SKEW_SECONDS = 300;
/** WeChat probes merchants with callbacks signed wrongly on purpose; such a signature must never verify. */
export const SIGNATURE_PROBE_PREFIX = 'WECHATPAY/SIGNTEST/';
export const AEAD_ALGORITHM = 'AEAD_AES_256_GCM';
const GCM_TAG_BYTES = 16;
const API_V3_KEY_BYTES = 32;

/** `path?query` exactly as it goes on the wire: WHATWG parsing is what axios applies before sending, so sign its result. */
export function canonicalUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}

/** The five lines a request signature covers, each ending with `\n`, the last (body, "" for GET) included. */
export function requestSigningMessage(method: string, canonical: string, timestamp: string, nonce: string, body: string): string {
  return `${method.toUpperCase()}\n${canonical}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** 32 characters of fresh randomness: WeChat only asks that a nonce never repeats. */
export function newNonce(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

export interface RequestSigner {
  mchid: string;
  serialNo: string;
  privateKey: KeyObject;
}

export interface SignRequestInput {
  method: string;
  /** Path and raw query, as `canonicalUrl` gives it. */
  canonicalUrl: string;
  /** The exact body bytes sent, as a string; "" when there is none. */
  body: string;
  now: Date;
  /** Fixed only by tests; fresh otherwise. */
  nonce?: string;
}

/** The `Authorization` header of one request. */
export function signRequest(signer: RequestSigner, input: SignRequestInput): string {
  const timestamp = String(Math.floor(input.now.getTime() / 1000));
  const nonce = input.nonce ?? newNonce();
  const message = requestSigningMessage(input.method, input.canonicalUrl, timestamp, nonce, input.body);
  const signature = createSign('RSA-SHA256').update(message, 'utf8').sign(signer.privateKey, 'base64');
  return `${AUTH_SCHEMA} mchid="${signer.mchid}",nonce_str="${nonce}",timestamp="${timestamp}",serial_no="${signer.serialNo}",signature="${signature}"`;
}

/** The three lines a response or callback signature covers, over the raw body bytes (never re-serialised JSON). */
export function responseSigningMessage(timestamp: string, nonce: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`, 'utf8'), body, Buffer.from('\n', 'utf8')]);
}

export type SignatureCheck = { ok: true; serial: string } | { ok: false; reason: string };

export interface VerifySignatureInput {
  headers: SignedHeaders;
  body: Buffer;
  platformKeys: ReadonlyMap<string, KeyObject>;
  now: Date;
}

/** The key a serial names: certificate serials are hex, compared regardless of case. */
function keyForSerial(keys: ReadonlyMap<string, KeyObject>, serial: string): KeyObject | undefined {
  const exact = keys.get(serial);
  if (exact) return exact;
  for (const [known, key] of keys) if (known.toUpperCase() === serial.toUpperCase()) return key;
  return undefined;
}

/**
 * Checks a WeChat response or callback: all four headers, the timestamp window, then the
 * SHA256withRSA signature by the key `Wechatpay-Serial` names (during a key migration both keys
 * are live, and each verifies only what carries its own serial).
 */
export function verifySignature(input: VerifySignatureInput): SignatureCheck {
  const timestamp = input.headers['wechatpay-timestamp'];
  const nonce = input.headers['wechatpay-nonce'];
  const signature = input.headers['wechatpay-signature'];
  const serial = input.headers['wechatpay-serial'];
  const missing = (
    [
      ['Wechatpay-Timestamp', timestamp],
      ['Wechatpay-Nonce', nonce],
      ['Wechatpay-Signature', signature],
      ['Wechatpay-Serial', serial],
    ] as const
  )
    .filter(([, value]) => !value)
    .map(([name]) => name);
  if (missing.length > 0 || !timestamp || !nonce || !signature || !serial) return { ok: false, reason: `missing header ${missing.join(', ')}` };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'Wechatpay-Timestamp is not unix seconds' };
  const skew = Math.abs(Math.floor(input.now.getTime() / 1000) - Number(timestamp));
  if (skew > MAX_CLOCK_SKEW_SECONDS) return { ok: false, reason: `Wechatpay-Timestamp is ${skew} s away from now (more than ${MAX_CLOCK_SKEW_SECONDS} s)` };
  if (signature.startsWith(SIGNATURE_PROBE_PREFIX)) return { ok: false, reason: 'signature probe (WECHATPAY/SIGNTEST/)' };
  const key = keyForSerial(input.platformKeys, serial);
  if (!key) return { ok: false, reason: `unknown Wechatpay-Serial ${serial}` };
  let valid = false;
  try {
    valid = createVerify('RSA-SHA256').update(responseSigningMessage(timestamp, nonce, input.body)).verify(key, signature, 'base64');
  } catch {
    valid = false;
  }
  return valid ? { ok: true, serial } : { ok: false, reason: `signature does not verify with the key of ${serial}` };
}

export interface AeadResource {
  algorithm?: string;
  ciphertext: string;
  nonce: string;
  associated_data?: string | null;
}

/** Thrown when an AEAD_AES_256_GCM envelope cannot be opened; the message says why, never the key. */
export class AeadDecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AeadDecryptError';
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Opens an AEAD_AES_256_GCM envelope: key = the APIv3 key, IV = the nonce and AAD = associated_data,
 * all as UTF-8; `ciphertext` is base64 of ciphertext ‖ 16-byte tag. Any tampering throws.
 */
export function decryptAead(apiV3Key: string, resource: AeadResource): Buffer {
  if (resource.algorithm !== undefined && resource.algorithm !== AEAD_ALGORITHM) throw new AeadDecryptError(`unsupported algorithm ${resource.algorithm}`);
  const key = Buffer.from(apiV3Key, 'utf8');
  if (key.length !== API_V3_KEY_BYTES) throw new AeadDecryptError(`the APIv3 key must be ${API_V3_KEY_BYTES} bytes`);
  if (!resource.nonce) throw new AeadDecryptError('empty nonce');
  if (!BASE64.test(resource.ciphertext)) throw new AeadDecryptError('ciphertext is not base64');
  const sealed = Buffer.from(resource.ciphertext, 'base64');
  if (sealed.length <= GCM_TAG_BYTES) throw new AeadDecryptError('ciphertext shorter than its authentication tag');
  const tag = sealed.subarray(sealed.length - GCM_TAG_BYTES);
  const data = sealed.subarray(0, sealed.length - GCM_TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(resource.nonce, 'utf8'), { authTagLength: GCM_TAG_BYTES });
    decipher.setAuthTag(tag);
    decipher.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
    return Buffer.concat([decipher.update(data), decipher.final()]);
  } catch {
    throw new AeadDecryptError('authentication failed (wrong APIv3 key, nonce or associated_data, or altered ciphertext)');
  }
}

/** One entry of `GET /v3/certificates`. */
export interface EncryptedPlatformCertificate {
  serial_no: string;
  effective_time: string;
  expire_time: string;
  encrypt_certificate: AeadResource;
}

export interface PlatformCertificate {
  serial: string;
  effectiveTime: string;
  expireTime: string;
  pem: string;
  publicKey: KeyObject;
}

/** Decrypts the `/v3/certificates` list; a certificate whose own serial differs from the announced one is refused. */
export function decryptPlatformCertificates(apiV3Key: string, entries: readonly EncryptedPlatformCertificate[]): PlatformCertificate[] {
  return entries.map((entry) => {
    const pem = decryptAead(apiV3Key, entry.encrypt_certificate).toString('utf8');
    const cert = new X509Certificate(pem);
    if (cert.serialNumber.toUpperCase() !== entry.serial_no.toUpperCase()) {
      throw new AeadDecryptError(`certificate ${entry.serial_no} carries serial ${cert.serialNumber}`);
    }
    return { serial: entry.serial_no, effectiveTime: entry.effective_time, expireTime: entry.expire_time, pem, publicKey: cert.publicKey };
  });
}
