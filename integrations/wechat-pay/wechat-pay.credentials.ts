import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../lib/errors';
import type { MerchantCredentials } from './wechat-pay.client';

/**
 * A merchant's WeChat Pay keys as configuration gives them (PEM text or files) turned into
 * MerchantCredentials. Every problem is collected and named by field; no message ever quotes key
 * material, because configuration errors end up in logs.
 */
export interface MerchantCredentialSource {
  mchid: string;
  appid: string;
  /** Serial of the merchant API certificate. */
  serialNo: string;
  privateKeyPem?: string;
  privateKeyFile?: string;
  apiV3Key: string;
  /** `PUB_KEY_ID_…` of the WeChat Pay public key (public-key mode). */
  publicKeyId?: string;
  publicKeyPem?: string;
  publicKeyFile?: string;
  /** Platform certificates (certificate mode), e.g. from `/v3/certificates`. */
  platformCertificates?: readonly { serial: string; pem: string }[];
}

const PUBLIC_KEY_ID_PREFIX = 'PUB_KEY_ID_';
const API_V3_KEY_BYTES = 32;

/** The PEM text of a field given inline or as a file; undefined (with a problem noted) when neither works. */
function pemOf(field: string, pem: string | undefined, file: string | undefined, problems: string[]): string | undefined {
  if (pem !== undefined && file !== undefined) {
    problems.push(`${field}Pem and ${field}File: give one, not both`);
    return undefined;
  }
  if (pem !== undefined) return pem;
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    problems.push(`${field}File: cannot read ${file} (${code})`);
    return undefined;
  }
}

function rsaKey(field: string, parse: () => KeyObject, problems: string[]): KeyObject | undefined {
  let key: KeyObject;
  try {
    key = parse();
  } catch {
    problems.push(`${field}: not a valid PEM key`);
    return undefined;
  }
  if (key.asymmetricKeyType !== 'rsa') {
    problems.push(`${field}: expected an RSA key, got ${key.asymmetricKeyType ?? 'unknown'}`);
    return undefined;
  }
  return key;
}

/** Checks and loads a merchant's credentials. @throws ConfigError naming every bad field. */
export function loadMerchantCredentials(source: MerchantCredentialSource): MerchantCredentials {
  const problems: string[] = [];
  if (!/^\d+$/.test(source.mchid)) problems.push('mchid: must be the numeric merchant id');
  if (!source.appid || /\s/.test(source.appid)) problems.push('appid: must be a non-empty id without spaces');
  if (!source.serialNo || /\s/.test(source.serialNo)) problems.push('serialNo: must be the merchant certificate serial');
  const apiV3Bytes = Buffer.byteLength(source.apiV3Key ?? '', 'utf8');
  if (apiV3Bytes !== API_V3_KEY_BYTES) problems.push(`apiV3Key: must be exactly ${API_V3_KEY_BYTES} bytes (got ${apiV3Bytes})`);

  let privateKey: KeyObject | undefined;
  const privatePem = pemOf('privateKey', source.privateKeyPem, source.privateKeyFile, problems);
  if (privatePem !== undefined) privateKey = rsaKey('privateKey', () => createPrivateKey({ key: privatePem, format: 'pem' }), problems);
  else if (source.privateKeyPem === undefined && source.privateKeyFile === undefined) problems.push('privateKeyPem or privateKeyFile: required');

  const platformKeys = new Map<string, KeyObject>();
  const publicPem = pemOf('publicKey', source.publicKeyPem, source.publicKeyFile, problems);
  if (source.publicKeyId !== undefined || publicPem !== undefined) {
    if (source.publicKeyId === undefined) problems.push('publicKeyId: required with a public key');
    else if (!source.publicKeyId.startsWith(PUBLIC_KEY_ID_PREFIX) || source.publicKeyId.length === PUBLIC_KEY_ID_PREFIX.length) {
      problems.push(`publicKeyId: must start with ${PUBLIC_KEY_ID_PREFIX}`);
    }
    if (publicPem === undefined) {
      if (source.publicKeyPem === undefined && source.publicKeyFile === undefined) problems.push('publicKeyPem or publicKeyFile: required with publicKeyId');
    } else {
      const key = rsaKey('publicKey', () => createPublicKey({ key: publicPem, format: 'pem' }), problems);
      if (key && source.publicKeyId?.startsWith(PUBLIC_KEY_ID_PREFIX)) platformKeys.set(source.publicKeyId, key);
    }
  }

  (source.platformCertificates ?? []).forEach((entry, i) => {
    const field = `platformCertificates[${i}]`;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(entry.pem);
    } catch {
      problems.push(`${field}: not a valid PEM certificate`);
      return;
    }
    if (cert.serialNumber.toUpperCase() !== entry.serial.toUpperCase()) {
      problems.push(`${field}: serial ${entry.serial} differs from the certificate's own ${cert.serialNumber}`);
      return;
    }
    if (cert.publicKey.asymmetricKeyType !== 'rsa') {
      problems.push(`${field}: expected an RSA certificate`);
      return;
    }
    platformKeys.set(entry.serial, cert.publicKey);
  });
  const platformKeysGiven = source.publicKeyId !== undefined || publicPem !== undefined || (source.platformCertificates?.length ?? 0) > 0;
  if (!platformKeysGiven) problems.push('publicKeyId/publicKeyPem or platformCertificates: at least one WeChat Pay verification key is required');

  if (problems.length > 0 || !privateKey) throw new ConfigError(problems.map((p) => `WeChat Pay merchant ${source.mchid}: ${p}`));
  return { mchid: source.mchid, appid: source.appid, serialNo: source.serialNo, privateKey, apiV3Key: source.apiV3Key, platformKeys };
}
