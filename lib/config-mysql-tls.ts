import type { SslOptions } from 'mysql2';
import { z } from 'zod';
import { optionalPemFile, optionalText } from './config-fields';

/**
 * TLS to MySQL/MariaDB. lib/config.ts merges these fields into the one schema and puts the result on
 * `MysqlConfig.ssl`; `mysqlSslOptions` turns it into the mysql2 option every connection the hub
 * opens is given (the pool, the schema connection, the named lock's).
 */

export const MYSQL_SSL_MODES = ['disabled', 'required', 'verify-ca', 'verify-full'] as const;
export type MysqlSslMode = (typeof MYSQL_SSL_MODES)[number];

export const mysqlTlsEnv = {
  // Empty counts as unset, as `MYSQL_SSL_MODE=` in a .env file means.
  MYSQL_SSL_MODE: optionalText
    .pipe(z.enum(MYSQL_SSL_MODES, { message: `expected ${MYSQL_SSL_MODES.join(', ')}` }).optional())
    .describe(
      'TLS to MySQL: disabled; required (encrypted, the server\'s certificate not checked); verify-ca (signed by MYSQL_SSL_CA, any host name); verify-full (signed, and naming MYSQL_URL\'s host). Default verify-full when MYSQL_SSL_CA is set, otherwise disabled',
    ),
  MYSQL_SSL_CA: optionalPemFile.describe(
    'PEM file of the CA (or bundle, e.g. RDS\'s global-bundle.pem) that signed the server\'s certificate, read at start. Unset with verify-full: Node\'s bundled public CAs',
  ),
  MYSQL_SSL_CERT: optionalPemFile.describe('PEM file of the client certificate, for a server that requires one (REQUIRE X509); with MYSQL_SSL_KEY'),
  MYSQL_SSL_KEY: optionalPemFile.describe('PEM file of the client certificate\'s private key (unencrypted); with MYSQL_SSL_CERT'),
};

type MysqlTlsEnv = z.output<z.ZodObject<typeof mysqlTlsEnv>>;

export interface MysqlTls {
  readonly mode: Exclude<MysqlSslMode, 'disabled'>;
  /** PEM of MYSQL_SSL_CA; null: Node's bundled public CAs (verify-full), or nothing checked (required). */
  readonly ca: string | null;
  /** PEM of the client certificate and its key, presented when the server asks; both or neither. */
  readonly cert: string | null;
  readonly key: string | null;
}

function modeOf(e: MysqlTlsEnv): MysqlSslMode {
  return e.MYSQL_SSL_MODE ?? (e.MYSQL_SSL_CA ? 'verify-full' : 'disabled');
}

/**
 * Settings that would be ignored are refused, so a CA is never silently left unused: a client
 * certificate needs TLS, `required` checks no CA, and verify-ca against the public CAs would accept
 * any certificate they ever signed.
 */
export function checkMysqlTlsEnv(e: MysqlTlsEnv, issue: (path: string, message: string) => void): void {
  if (Boolean(e.MYSQL_SSL_CERT) !== Boolean(e.MYSQL_SSL_KEY)) {
    issue(e.MYSQL_SSL_CERT ? 'MYSQL_SSL_KEY' : 'MYSQL_SSL_CERT', 'the client certificate (MYSQL_SSL_CERT) and its key (MYSQL_SSL_KEY) come together');
  }
  const mode = modeOf(e);
  if (mode === 'disabled') {
    const set = (['MYSQL_SSL_CA', 'MYSQL_SSL_CERT', 'MYSQL_SSL_KEY'] as const).filter((name) => e[name]);
    if (set.length > 0) {
      issue('MYSQL_SSL_MODE', `TLS is disabled, yet ${set.join(' and ')} ${set.length > 1 ? 'are' : 'is'} set: choose required, verify-ca or verify-full, or remove them`);
    }
  }
  if (mode === 'required' && e.MYSQL_SSL_CA) {
    issue('MYSQL_SSL_MODE', 'required does not check the server\'s certificate, so MYSQL_SSL_CA would be ignored: choose verify-ca or verify-full');
  }
  if (mode === 'verify-ca' && !e.MYSQL_SSL_CA) {
    issue('MYSQL_SSL_CA', 'required with MYSQL_SSL_MODE=verify-ca: the CA the server\'s certificate must chain to');
  }
}

export function mysqlTlsConfig(e: MysqlTlsEnv): MysqlTls | null {
  const mode = modeOf(e);
  if (mode === 'disabled') return null;
  return { mode, ca: e.MYSQL_SSL_CA ?? null, cert: e.MYSQL_SSL_CERT ?? null, key: e.MYSQL_SSL_KEY ?? null };
}

/**
 * mysql2's `ssl` option for `tls`, undefined without TLS. A new object on every call: mysql2 writes
 * its defaults into the object it is given, and the configuration is frozen.
 */
export function mysqlSslOptions(tls: MysqlTls | null): SslOptions | undefined {
  if (!tls) return undefined;
  return {
    rejectUnauthorized: tls.mode !== 'required',
    // false: the chain is checked, the host name is not (mysql2's checkServerIdentity then accepts any).
    verifyIdentity: tls.mode === 'verify-full',
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
  };
}
