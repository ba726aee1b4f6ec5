import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The emulators' own signature checks, written apart from sms.signing.ts (byte-level percent-encoding,
 * another canonicalisation path) so that a bug on one side cannot hide the same bug on the other.
 */

const UNRESERVED = /[A-Za-z0-9\-_.~]/;

/** RFC 3986 percent-encoding over the UTF-8 bytes, uppercase hex. */
export function pct(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && UNRESERVED.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Aliyun V1 (HMAC-SHA1): the signature over every parameter but `Signature`, key `secret&`. */
export function aliyunV1Expected(method: string, params: ReadonlyMap<string, string>, secret: string): string {
  const pairs = [...params.entries()].filter(([k]) => k !== 'Signature').map(([k, v]) => `${pct(k)}=${pct(v)}`);
  pairs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const text = `${method.toUpperCase()}&%2F&${pct(pairs.join('&'))}`;
  return createHmac('sha1', `${secret}&`).update(text, 'utf8').digest('base64');
}

export function aliyunV1Valid(method: string, params: ReadonlyMap<string, string>, secret: string): boolean {
  return sameText(aliyunV1Expected(method, params, secret), params.get('Signature') ?? '');
}

export interface ParsedAcs3 {
  accessKeyId: string;
  signedHeaders: string[];
  signature: string;
}

/** `ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…` or null when malformed. */
export function parseAcs3(header: string | undefined): ParsedAcs3 | null {
  const m = /^ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return null;
  return { accessKeyId: m[1] ?? '', signedHeaders: (m[2] ?? '').split(';'), signature: m[3] ?? '' };
}

/**
 * Aliyun V3 expected signature. `rawQuery` is the query as received (still encoded); `headerValues`
 * holds every value received for a lower-case header name.
 */
export function aliyunV3Expected(
  method: string,
  pathname: string,
  rawQuery: string,
  headerValues: ReadonlyMap<string, readonly string[]>,
  signedHeaders: readonly string[],
  hashedPayload: string,
  secret: string,
): string {
  const decoded: [string, string][] = rawQuery
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      const k = eq < 0 ? p : p.slice(0, eq);
      const v = eq < 0 ? '' : p.slice(eq + 1);
      return [decodeURIComponent(k), decodeURIComponent(v.replace(/\+/g, '%20'))];
    });
  decoded.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const query = decoded.map(([k, v]) => (v === '' ? pct(k) : `${pct(k)}=${pct(v)}`)).join('&');
  let headers = '';
  for (const name of signedHeaders) {
    const values = [...(headerValues.get(name) ?? [])].map((v) => v.trim()).sort();
    headers += `${name}:${values.join(',')}\n`;
  }
  const canonical = `${method}\n${pathname}\n${query}\n${headers}\n${signedHeaders.join(';')}\n${hashedPayload}`;
  const digest = createHash('sha256').update(canonical, 'utf8').digest('hex');
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(`ACS3-HMAC-SHA256\n${digest}`).digest('hex');
}

export interface ParsedTc3 {
  secretId: string;
  date: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

export function parseTc3(header: string | undefined): ParsedTc3 | null {
  const m = /^TC3-HMAC-SHA256 Credential=([^/]+)\/(\d{4}-\d{2}-\d{2})\/([a-z]+)\/tc3_request, SignedHeaders=([a-z;-]+), Signature=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return null;
  return { secretId: m[1] ?? '', date: m[2] ?? '', service: m[3] ?? '', signedHeaders: (m[4] ?? '').split(';'), signature: m[5] ?? '' };
}

/** Tencent TC3 expected signature over the received body bytes and the signed headers' received values. */
export function tc3Expected(
  auth: ParsedTc3,
  headerValue: (name: string) => string,
  body: Buffer,
  timestamp: string,
  secretKey: string,
): string {
  const bodyHash = createHash('sha256').update(body).digest('hex');
  const lines = auth.signedHeaders.map((h) => `${h}:${headerValue(h).trim().toLowerCase()}\n`).join('');
  const canonical = ['POST', '/', '', lines, auth.signedHeaders.join(';'), bodyHash].join('\n');
  const scope = [auth.date, auth.service, 'tc3_request'].join('/');
  const toSign = ['TC3-HMAC-SHA256', timestamp, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let key: Buffer = Buffer.from(`TC3${secretKey}`, 'utf8');
  for (const part of [auth.date, auth.service, 'tc3_request']) key = createHmac('sha256', key).update(part).digest();
  return createHmac('sha256', key).update(toSign).digest('hex');
}

export { sameText };
