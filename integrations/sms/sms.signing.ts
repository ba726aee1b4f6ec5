import { createHash, createHmac } from 'node:crypto';

/**
 * The live clients' request signing: Aliyun ACS3-HMAC-SHA256 (the current OpenAPI scheme) and Tencent
 * TC3-HMAC-SHA256. Pinned by the vendors' published vectors in test/unit/sms-signing.test.ts.
 */

const sha256Hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** Aliyun's percent-encoding: RFC 3986 unreserved characters stay, everything else (`!'()*` too) is escaped. */
export function acsEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The query string exactly as signed and as sent: keys sorted; a key with an empty value is written bare. */
export function acsCanonicalQuery(query: Readonly<Record<string, string>>): string {
  return Object.keys(query)
    .sort()
    .map((k) => (query[k] ? `${acsEncode(k)}=${acsEncode(query[k] ?? '')}` : acsEncode(k)))
    .join('&');
}

export interface AcsRequest {
  method: string;
  /** `/` for RPC-style APIs such as SendSms. */
  pathname: string;
  query: Readonly<Record<string, string>>;
  headers: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the body (the `x-acs-content-sha256` header). */
  hashedPayload: string;
}

/** `Authorization` for ACS3-HMAC-SHA256: signs `host`, `content-type` and every `x-acs-*` header. */
export function acs3Authorization(req: AcsRequest, accessKeyId: string, accessKeySecret: string): string {
  const grouped = new Map<string, string[]>();
  for (const [name, value] of Object.entries(req.headers)) {
    const lower = name.toLowerCase();
    if (lower === 'host' || lower === 'content-type' || lower.startsWith('x-acs-')) {
      grouped.set(lower, [...(grouped.get(lower) ?? []), value.trim()]);
    }
  }
  const names = [...grouped.keys()].sort();
  const canonicalHeaders = names.map((n) => `${n}:${(grouped.get(n) ?? []).sort().join(',')}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [req.method, req.pathname, acsCanonicalQuery(req.query), canonicalHeaders, signedHeaders, req.hashedPayload].join('\n');
  const stringToSign = `ACS3-HMAC-SHA256\n${sha256Hex(canonicalRequest)}`;
  // The raw secret: V1's `secret + "&"` key does not apply here.
  const signature = createHmac('sha256', accessKeySecret).update(stringToSign).digest('hex');
  return `ACS3-HMAC-SHA256 Credential=${accessKeyId},SignedHeaders=${signedHeaders},Signature=${signature}`;
}

export { sha256Hex };

export interface Tc3Input {
  secretId: string;
  secretKey: string;
  /** First label of the endpoint host: `sms`. */
  service: string;
  host: string;
  contentType: string;
  /** The exact bytes sent. */
  payload: string;
  timestamp: number;
}

/** `Authorization` for TC3-HMAC-SHA256 (POST `/`, signed headers `content-type;host`). */
export function tc3Authorization(i: Tc3Input): string {
  const date = new Date(i.timestamp * 1000).toISOString().slice(0, 10);
  const canonicalRequest = `POST\n/\n\ncontent-type:${i.contentType}\nhost:${i.host}\n\ncontent-type;host\n${sha256Hex(i.payload)}`;
  const scope = `${date}/${i.service}/tc3_request`;
  const stringToSign = `TC3-HMAC-SHA256\n${i.timestamp}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
  const kSigning = hmac(hmac(hmac(`TC3${i.secretKey}`, date), i.service), 'tc3_request');
  const signature = createHmac('sha256', kSigning).update(stringToSign).digest('hex');
  return `TC3-HMAC-SHA256 Credential=${i.secretId}/${scope}, SignedHeaders=content-type;host, Signature=${signature}`;
}
