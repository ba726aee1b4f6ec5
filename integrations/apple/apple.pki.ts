import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

/**
 * The emulator's test PKI, made at start with node:crypto: Node verifies X.509 but cannot issue it,
 * so the few DER structures a certificate needs are written here. The chain is Apple's shape: an EC
 * P-256 root, an intermediate carrying Apple's WWDR marker OID and a leaf carrying the App Store
 * receipt-signing OID, which is what `SignedDataVerifier` checks for besides the signatures.
 */

export const APPLE_INTERMEDIATE_OID = '1.2.840.113635.100.6.2.1';
export const APPLE_LEAF_OID = '1.2.840.113635.100.6.11.1';

// ---- DER writer: only what certificates need ----

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 + n, inner);
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bits = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.concat([Buffer.from([unused]), b]));
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
const NULL = Buffer.from([0x05, 0x00]);

function integer(value: Buffer | number): Buffer {
  let b = typeof value === 'number' ? Buffer.from([value]) : value;
  while (b.length > 1 && b[0] === 0 && ((b[1] ?? 0) & 0x80) === 0) b = b.subarray(1);
  return tlv(0x02, (b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime until 2049, GeneralizedTime after, as RFC 5280 requires. */
function time(ms: number): Buffer {
  const iso = new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return Number(iso.slice(0, 4)) < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const name = (cn: string): Buffer => seq(set(seq(oid('2.5.4.10'), utf8('jobhub App Store emulator'))), set(seq(oid('2.5.4.3'), utf8(cn))));
const extension = (id: string, critical: boolean, value: Buffer): Buffer => seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

// ---- certificates ----

export type CertRole = 'root' | 'intermediate' | 'leaf';

export interface IssuedCertificate {
  readonly der: Buffer;
  readonly key: KeyObject;
  readonly subject: string;
}

export interface CertSpec {
  readonly role: CertRole;
  readonly subject: string;
  /** Self-signed when absent. */
  readonly issuer?: IssuedCertificate;
  readonly notBefore: number;
  readonly notAfter: number;
  /** False: leave Apple's marker OID out (a chain the verifier must refuse). */
  readonly markerOid?: boolean;
  /** Authority Information Access: where online checks ask about revocation. */
  readonly ocspUrl?: string;
}

function extensionsOf(role: CertRole, markerOid: boolean, ocspUrl: string | undefined): Buffer[] {
  // keyCertSign + cRLSign (bits 5, 6) for CAs; digitalSignature (bit 0) for the leaf.
  const aia = ocspUrl ? [extension('1.3.6.1.5.5.7.1.1', false, seq(seq(oid('1.3.6.1.5.5.7.48.1'), tlv(0x86, Buffer.from(ocspUrl)))))] : [];
  if (role === 'leaf') {
    return [extension('2.5.29.19', true, seq()), extension('2.5.29.15', true, bits(Buffer.from([0x80]), 7)), ...(markerOid ? [extension(APPLE_LEAF_OID, false, NULL)] : []), ...aia];
  }
  const constraints = role === 'root' ? seq(bool(true)) : seq(bool(true), integer(0));
  return [
    extension('2.5.29.19', true, constraints),
    extension('2.5.29.15', true, bits(Buffer.from([0x06]), 1)),
    ...(role === 'intermediate' && markerOid ? [extension(APPLE_INTERMEDIATE_OID, false, NULL)] : []),
    ...aia,
  ];
}

export function issueCertificate(spec: CertSpec): IssuedCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const signer = spec.issuer?.key ?? privateKey;
  const tbs = seq(
    explicit(0, integer(2)),
    integer(Buffer.concat([Buffer.from([0x01]), randomBytes(15)])),
    ECDSA_SHA256,
    name(spec.issuer?.subject ?? spec.subject),
    seq(time(spec.notBefore), time(spec.notAfter)),
    name(spec.subject),
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, seq(...extensionsOf(spec.role, spec.markerOid ?? true, spec.ocspUrl))),
  );
  const signature = sign('sha256', tbs, { key: signer, dsaEncoding: 'der' });
  return { der: seq(tbs, ECDSA_SHA256, bits(signature)), key: privateKey, subject: spec.subject };
}

/** The chains a notification can be signed with: the trusted one and each way a verifier must refuse one. */
export type ChainName = 'trusted' | 'untrustedRoot' | 'missingLeafOid' | 'missingIntermediateOid' | 'twoCertificates' | 'expiredLeaf' | 'ocspUnavailable';

export interface SigningChain {
  /** Signs with this key. */
  readonly leaf: IssuedCertificate;
  /** x5c, leaf first. */
  readonly x5c: readonly Buffer[];
}

export interface ApplePki {
  readonly root: IssuedCertificate;
  readonly chains: Readonly<Record<ChainName, SigningChain>>;
  /** Until when the `expiredLeaf` chain's leaf is valid: payloads signed after it are refused. */
  readonly expiredLeafNotAfter: number;
}

const YEAR_MS = 365 * 86_400_000;

/**
 * Valid from a year before `now` for ten years, so emulator clocks moved by `advance()` stay inside.
 * `ocspUrl` goes into the `ocspUnavailable` chain only: the others carry no revocation endpoint.
 */
export function createApplePki(now: number, ocspUrl: string): ApplePki {
  const from = now - YEAR_MS;
  const to = now + 10 * YEAR_MS;
  const root = issueCertificate({ role: 'root', subject: 'Emulator Root CA - G3', notBefore: from, notAfter: to });
  const intermediate = issueCertificate({ role: 'intermediate', subject: 'Emulator Worldwide Developer Relations CA - G6', issuer: root, notBefore: from, notAfter: to });
  const leafOf = (issuer: IssuedCertificate, o: { markerOid?: boolean; notAfter?: number } = {}): IssuedCertificate =>
    issueCertificate({ role: 'leaf', subject: 'Emulator App Store Receipt Signing', issuer, notBefore: from, notAfter: o.notAfter ?? to, markerOid: o.markerOid ?? true });
  const chain = (leaf: IssuedCertificate, inter: IssuedCertificate, top: IssuedCertificate): SigningChain => ({ leaf, x5c: [leaf.der, inter.der, top.der] });

  const otherRoot = issueCertificate({ role: 'root', subject: 'Emulator Root CA - G3', notBefore: from, notAfter: to });
  const otherIntermediate = issueCertificate({ role: 'intermediate', subject: 'Emulator Worldwide Developer Relations CA - G6', issuer: otherRoot, notBefore: from, notAfter: to });
  const bareIntermediate = issueCertificate({ role: 'intermediate', subject: 'Emulator Worldwide Developer Relations CA - G6', issuer: root, notBefore: from, notAfter: to, markerOid: false });
  const leaf = leafOf(intermediate);
  const ocspIntermediate = issueCertificate({ role: 'intermediate', subject: 'Emulator Worldwide Developer Relations CA - G6', issuer: root, notBefore: from, notAfter: to, ocspUrl });
  const ocspLeaf = issueCertificate({ role: 'leaf', subject: 'Emulator App Store Receipt Signing', issuer: ocspIntermediate, notBefore: from, notAfter: to, ocspUrl });
  const expiredLeafNotAfter = now - 86_400_000;
  return {
    root,
    expiredLeafNotAfter,
    chains: {
      trusted: chain(leaf, intermediate, root),
      untrustedRoot: chain(leafOf(otherIntermediate), otherIntermediate, otherRoot),
      missingLeafOid: chain(leafOf(intermediate, { markerOid: false }), intermediate, root),
      missingIntermediateOid: chain(leafOf(bareIntermediate), bareIntermediate, root),
      twoCertificates: { leaf, x5c: [leaf.der, intermediate.der] },
      expiredLeaf: chain(leafOf(intermediate, { notAfter: expiredLeafNotAfter }), intermediate, root),
      ocspUnavailable: chain(ocspLeaf, ocspIntermediate, root),
    },
  };
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** A compact JWS as the App Store signs it: ES256, raw r‖s signature, x5c in the header. */
export function signJws(payload: object, chain: SigningChain): string {
  const header = { alg: 'ES256', x5c: chain.x5c.map((c) => c.toString('base64')), typ: 'JWT' };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = sign('sha256', Buffer.from(input), { key: chain.leaf.key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(signature)}`;
}
