import { createCipheriv, createSign, createVerify, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../lib/errors';
import type { SignedHeaders } from '../../integrations/wechat-pay/wechat-pay.client';
import { loadMerchantCredentials, type MerchantCredentialSource } from '../../integrations/wechat-pay/wechat-pay.credentials';
import {
  canonicalUrl,
  decryptAead,
  requestSigningMessage,
  signRequest,
  verifySignature,
} from '../../integrations/wechat-pay/wechat-pay.signing';

const merchant = generateKeyPairSync('rsa', { modulusLength: 2048 });
const platformA = generateKeyPairSync('rsa', { modulusLength: 2048 });
const platformB = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUB_KEY_ID = 'PUB_KEY_ID_0114232134912410000000000000000001';
const CERT_SERIAL = '5157F09EFDC096DE15EBE81A47057A7232F1B8E1';
const signer = { mchid: '1900000001', serialNo: '3775B6A45ACD588826D15E583A95F5DD********'.replace(/\*/g, 'A'), privateKey: merchant.privateKey };
const NOW = new Date('2026-11-23T02:00:00Z');
const NOW_S = Math.floor(NOW.getTime() / 1000);
const API_V3_KEY = 'abcdefghijklmnopqrstuvwxyz012345';

/** The Authorization header split into its k="v" pairs, as WeChat's server parses it. */
function parseAuthorization(header: string): Record<string, string> {
  expect(header.startsWith('WECHATPAY2-SHA256-RSA2048 ')).toBe(true);
  const pairs: Record<string, string> = {};
  for (const m of header.slice('WECHATPAY2-SHA256-RSA2048 '.length).matchAll(/(\w+)="([^"]*)"/g)) pairs[m[1] as string] = m[2] as string;
  return pairs;
}

/** Verifies a request signature the way WeChat does, from the header alone plus what was sent. */
function requestVerifies(header: string, method: string, url: string, body: string, key: KeyObject = merchant.publicKey): boolean {
  const p = parseAuthorization(header);
  const message = `${method}\n${url}\n${p.timestamp}\n${p.nonce_str}\n${body}\n`;
  return createVerify('RSA-SHA256').update(message, 'utf8').verify(key, p.signature as string, 'base64');
}

/** WeChat's side of a response: the four headers over timestamp, nonce and the raw body. */
function signResponse(body: Buffer | string, o: { key?: KeyObject; serial?: string; timestamp?: number; signature?: string } = {}): SignedHeaders {
  const timestamp = String(o.timestamp ?? NOW_S);
  const nonce = randomBytes(16).toString('hex');
  const message = Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`), Buffer.from(body), Buffer.from('\n')]);
  const signature = o.signature ?? createSign('RSA-SHA256').update(message).sign(o.key ?? platformA.privateKey, 'base64');
  return { 'wechatpay-timestamp': timestamp, 'wechatpay-nonce': nonce, 'wechatpay-signature': signature, 'wechatpay-serial': o.serial ?? PUB_KEY_ID };
}

const keysA = new Map([[PUB_KEY_ID, platformA.publicKey]]);
const verify = (headers: SignedHeaders, body: Buffer | string, keys: ReadonlyMap<string, KeyObject> = keysA) =>
  verifySignature({ headers, body: Buffer.from(body), platformKeys: keys, now: NOW });

describe('WeChat Pay request signing', () => {
  it('signs GET with an empty body: the message ends with a blank body line', () => {
    const url = '/v3/pay/transactions/out-trade-no/T1?mchid=1900000001';
    const header = signRequest(signer, { method: 'GET', canonicalUrl: url, body: '', now: NOW, nonce: 'N1' });
    const p = parseAuthorization(header);
    expect(p).toMatchObject({ mchid: '1900000001', nonce_str: 'N1', timestamp: String(NOW_S), serial_no: signer.serialNo });
    expect(requestSigningMessage('GET', url, String(NOW_S), 'N1', '').endsWith('N1\n\n')).toBe(true);
    expect(requestVerifies(header, 'GET', url, '')).toBe(true);
    expect(requestVerifies(header, 'GET', url, '', platformA.publicKey)).toBe(false);
    expect(requestVerifies(header, 'GET', `${url}x`, '')).toBe(false);
  });

  it('signs a POST with a unicode body over its exact bytes', () => {
    const body = JSON.stringify({ mchid: '1900000001', description: '会员卡 – 年费 ☕' });
    const url = '/v3/pay/transactions/out-trade-no/T2/close';
    const header = signRequest(signer, { method: 'POST', canonicalUrl: url, body, now: NOW });
    expect(requestVerifies(header, 'POST', url, body)).toBe(true);
    expect(requestVerifies(header, 'POST', url, body.replace('年', '月'))).toBe(false);
    expect(requestVerifies(header, 'POST', url, `${body} `)).toBe(false);
  });

  it('keeps reserved characters of the query raw in the canonical URL', () => {
    const url = 'https://api.mch.weixin.qq.com/v3/billdownload/file?token=ab%2Bc%2F%3D%3D&tartype=gzip&x=a:b@c';
    const canonical = canonicalUrl(url);
    expect(canonical).toBe('/v3/billdownload/file?token=ab%2Bc%2F%3D%3D&tartype=gzip&x=a:b@c');
    const header = signRequest(signer, { method: 'GET', canonicalUrl: canonical, body: '', now: NOW });
    expect(requestVerifies(header, 'GET', canonical, '')).toBe(true);
    expect(requestVerifies(header, 'GET', decodeURIComponent(canonical), '')).toBe(false);
  });

  it('keeps an uppercase out_trade_no as it is', () => {
    const canonical = canonicalUrl(`https://h.example/v3/pay/transactions/out-trade-no/${encodeURIComponent('Ab-12_XY')}?mchid=1900000001`);
    expect(canonical).toBe('/v3/pay/transactions/out-trade-no/Ab-12_XY?mchid=1900000001');
    const header = signRequest(signer, { method: 'get', canonicalUrl: canonical, body: '', now: NOW });
    expect(requestVerifies(header, 'GET', canonical, '')).toBe(true);
    expect(requestVerifies(header, 'GET', canonical.toLowerCase(), '')).toBe(false);
  });

  it('uses a fresh nonce per request', () => {
    const a = parseAuthorization(signRequest(signer, { method: 'GET', canonicalUrl: '/v3/x', body: '', now: NOW }));
    const b = parseAuthorization(signRequest(signer, { method: 'GET', canonicalUrl: '/v3/x', body: '', now: NOW }));
    expect(a.nonce_str).toHaveLength(32);
    expect(a.nonce_str).not.toBe(b.nonce_str);
  });
});

describe('WeChat Pay response verification', () => {
  const body = '{"out_trade_no":"T1","trade_state":"NOTPAY"}';

  it('accepts a correct signature and names the serial', () => {
    expect(verify(signResponse(body), body)).toEqual({ ok: true, serial: PUB_KEY_ID });
  });

  it('accepts 299 s of skew either way and rejects 301 s', () => {
    expect(verify(signResponse(body, { timestamp: NOW_S - 299 }), body).ok).toBe(true);
    expect(verify(signResponse(body, { timestamp: NOW_S + 299 }), body).ok).toBe(true);
    expect(verify(signResponse(body, { timestamp: NOW_S - 300 }), body).ok).toBe(true);
    const old = verify(signResponse(body, { timestamp: NOW_S - 301 }), body);
    expect(old).toEqual({ ok: false, reason: expect.stringContaining('301 s') });
    expect(verify(signResponse(body, { timestamp: NOW_S + 301 }), body).ok).toBe(false);
  });

  it.each(['wechatpay-timestamp', 'wechatpay-nonce', 'wechatpay-signature', 'wechatpay-serial'] as const)('rejects a response without %s', (name) => {
    const headers = signResponse(body);
    delete headers[name];
    expect(verify(headers, body)).toEqual({ ok: false, reason: expect.stringMatching(new RegExp(`missing header ${name}`, 'i')) });
  });

  it('rejects an unknown serial even when the key would verify', () => {
    expect(verify(signResponse(body, { serial: 'PUB_KEY_ID_0000' }), body)).toEqual({ ok: false, reason: expect.stringContaining('unknown Wechatpay-Serial') });
  });

  it('rejects the WECHATPAY/SIGNTEST/ probe', () => {
    const probe = signResponse(body, { signature: `WECHATPAY/SIGNTEST/${randomBytes(64).toString('base64')}` });
    expect(verify(probe, body)).toEqual({ ok: false, reason: expect.stringContaining('SIGNTEST') });
  });

  it('rejects a body changed by one byte or by added whitespace', () => {
    const headers = signResponse(body);
    expect(verify(headers, body).ok).toBe(true);
    expect(verify(headers, body.replace('T1', 'T2')).ok).toBe(false);
    expect(verify(headers, ` ${body}`).ok).toBe(false);
    expect(verify(headers, `${body}\n`).ok).toBe(false);
    expect(verify(headers, JSON.stringify(JSON.parse(body), null, 1)).ok).toBe(false);
  });

  it('verifies a 204 over the empty body', () => {
    expect(verify(signResponse(''), '').ok).toBe(true);
    expect(verify(signResponse(''), ' ').ok).toBe(false);
  });

  it('picks the verifier by serial while two keys are live', () => {
    const both = new Map([
      [PUB_KEY_ID, platformA.publicKey],
      [CERT_SERIAL, platformB.publicKey],
    ]);
    expect(verify(signResponse(body, { key: platformA.privateKey, serial: PUB_KEY_ID }), body, both)).toEqual({ ok: true, serial: PUB_KEY_ID });
    expect(verify(signResponse(body, { key: platformB.privateKey, serial: CERT_SERIAL }), body, both)).toEqual({ ok: true, serial: CERT_SERIAL });
    expect(verify(signResponse(body, { key: platformB.privateKey, serial: CERT_SERIAL.toLowerCase() }), body, both).ok).toBe(true);
    expect(verify(signResponse(body, { key: platformA.privateKey, serial: CERT_SERIAL }), body, both).ok).toBe(false);
    expect(verify(signResponse(body, { key: platformB.privateKey, serial: PUB_KEY_ID }), body, both).ok).toBe(false);
  });
});

/** WeChat's side of a callback resource: AES-256-GCM, base64 of ciphertext ‖ tag. */
function encrypt(plain: string, o: { key?: string; nonce?: string; aad?: string } = {}): { ciphertext: string; nonce: string; associated_data: string } {
  const nonce = o.nonce ?? 'n0nce1234567';
  const aad = o.aad ?? 'transaction';
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(o.key ?? API_V3_KEY, 'utf8'), Buffer.from(nonce, 'utf8'));
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return { ciphertext: ct.toString('base64'), nonce, associated_data: aad };
}

describe('AEAD_AES_256_GCM', () => {
  const plain = JSON.stringify({ out_trade_no: 'T1', trade_state: 'SUCCESS', description: '年卡' });

  it('decrypts a resource encrypted with the APIv3 key', () => {
    const resource = { algorithm: 'AEAD_AES_256_GCM', ...encrypt(plain) };
    expect(decryptAead(API_V3_KEY, resource).toString('utf8')).toBe(plain);
    expect(decryptAead(API_V3_KEY, { ...encrypt(plain, { aad: '' }) }).toString('utf8')).toBe(plain);
  });

  it('rejects a wrong key', () => {
    expect(() => decryptAead('ABCDEFGHIJKLMNOPQRSTUVWXYZ012345', encrypt(plain))).toThrow(/authentication failed/);
    expect(() => decryptAead('short', encrypt(plain))).toThrow(/32 bytes/);
  });

  it('rejects a wrong AAD or nonce', () => {
    expect(() => decryptAead(API_V3_KEY, { ...encrypt(plain), associated_data: 'refund' })).toThrow(/authentication failed/);
    expect(() => decryptAead(API_V3_KEY, { ...encrypt(plain), nonce: 'n0nce1234568' })).toThrow(/authentication failed/);
  });

  it('rejects truncated ciphertext', () => {
    const r = encrypt(plain);
    const sealed = Buffer.from(r.ciphertext, 'base64');
    expect(() => decryptAead(API_V3_KEY, { ...r, ciphertext: sealed.subarray(0, sealed.length - 1).toString('base64') })).toThrow(/authentication failed/);
    expect(() => decryptAead(API_V3_KEY, { ...r, ciphertext: sealed.subarray(1).toString('base64') })).toThrow(/authentication failed/);
    expect(() => decryptAead(API_V3_KEY, { ...r, ciphertext: sealed.subarray(0, 16).toString('base64') })).toThrow(/shorter than/);
  });

  it('rejects a corrupted tag and a corrupted body', () => {
    const r = encrypt(plain);
    const tagged = Buffer.from(r.ciphertext, 'base64');
    tagged[tagged.length - 1] = (tagged[tagged.length - 1] as number) ^ 0x01;
    expect(() => decryptAead(API_V3_KEY, { ...r, ciphertext: tagged.toString('base64') })).toThrow(/authentication failed/);
    const body = Buffer.from(r.ciphertext, 'base64');
    body[0] = (body[0] as number) ^ 0x80;
    expect(() => decryptAead(API_V3_KEY, { ...r, ciphertext: body.toString('base64') })).toThrow(/authentication failed/);
  });

  it('refuses another algorithm', () => {
    expect(() => decryptAead(API_V3_KEY, { algorithm: 'AEAD_SM4_GCM', ...encrypt(plain) })).toThrow(/unsupported algorithm/);
  });
});

describe('loadMerchantCredentials', () => {
  const privatePem = merchant.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const publicPem = platformA.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const valid: MerchantCredentialSource = { mchid: '1900000001', appid: 'wx01', serialNo: signer.serialNo, privateKeyPem: privatePem, apiV3Key: API_V3_KEY, publicKeyId: PUB_KEY_ID, publicKeyPem: publicPem };

  function problemsOf(source: MerchantCredentialSource): string {
    try {
      loadMerchantCredentials(source);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const message = (err as Error).message;
      expect(message).not.toContain('BEGIN');
      expect(message).not.toContain(API_V3_KEY);
      return message;
    }
    throw new Error('expected a ConfigError');
  }

  it('loads PEM text and files into keys that sign and verify', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wxpay-'));
    try {
      writeFileSync(join(dir, 'apiclient_key.pem'), privatePem);
      writeFileSync(join(dir, 'pub_key.pem'), publicPem);
      const fromFiles = loadMerchantCredentials({ ...valid, privateKeyPem: undefined, publicKeyPem: undefined, privateKeyFile: join(dir, 'apiclient_key.pem'), publicKeyFile: join(dir, 'pub_key.pem') });
      expect([...fromFiles.platformKeys.keys()]).toEqual([PUB_KEY_ID]);
      const body = '{"a":1}';
      expect(verify(signResponse(body), body, fromFiles.platformKeys).ok).toBe(true);
      const header = signRequest(fromFiles, { method: 'GET', canonicalUrl: '/v3/x', body: '', now: NOW });
      expect(requestVerifies(header, 'GET', '/v3/x', '')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names each bad field without quoting key material', () => {
    expect(problemsOf({ ...valid, apiV3Key: API_V3_KEY.slice(1) })).toMatch(/apiV3Key: must be exactly 32 bytes \(got 31\)/);
    expect(problemsOf({ ...valid, privateKeyPem: privatePem.replace(/[A-Za-z]{8}\n/, '\n') })).toMatch(/privateKey: not a valid PEM key/);
    expect(problemsOf({ ...valid, publicKeyId: '0114232134912410000000000000000001' })).toMatch(/publicKeyId: must start with PUB_KEY_ID_/);
    expect(problemsOf({ ...valid, publicKeyId: undefined, publicKeyPem: undefined })).toMatch(/at least one WeChat Pay verification key/);
    expect(problemsOf({ ...valid, privateKeyPem: undefined, privateKeyFile: '/nonexistent/apiclient_key.pem' })).toMatch(/privateKeyFile: cannot read .* \(ENOENT\)/);
    expect(problemsOf({ ...valid, platformCertificates: [{ serial: CERT_SERIAL, pem: publicPem }] })).toMatch(/platformCertificates\[0\]: not a valid PEM certificate/);
  });
});
