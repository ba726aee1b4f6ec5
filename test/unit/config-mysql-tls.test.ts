import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../lib/config';
import { mysqlSslOptions } from '../../lib/config-mysql-tls';
import { configProblems } from '../support/env';

const dir = mkdtempSync(join(tmpdir(), 'jobhub-mysql-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pem(name: string, label = 'CERTIFICATE'): string {
  const path = join(dir, name);
  writeFileSync(path, `-----BEGIN ${label}-----\nMIIB${name}\n-----END ${label}-----\n`);
  return path;
}

describe('MYSQL_SSL_* configuration', () => {
  const ca = pem('ca.pem');
  const cert = pem('client.pem');
  const key = pem('client-key.pem', 'PRIVATE KEY');

  it('is off by default, and a CA alone verifies chain and host name', () => {
    expect(loadConfig({}).mysql.ssl).toBeNull();
    expect(loadConfig({ MYSQL_SSL_MODE: '' }).mysql.ssl).toBeNull();
    const verified = loadConfig({ MYSQL_SSL_CA: ca }).mysql.ssl;
    expect(verified).toEqual({ mode: 'verify-full', ca: `-----BEGIN CERTIFICATE-----\nMIIBca.pem\n-----END CERTIFICATE-----\n`, cert: null, key: null });
    expect(mysqlSslOptions(verified)).toEqual({ rejectUnauthorized: true, verifyIdentity: true, ca: verified?.ca });
  });

  it('maps each mode onto what mysql2 checks', () => {
    const options = (env: NodeJS.ProcessEnv) => mysqlSslOptions(loadConfig(env).mysql.ssl);
    expect(options({ MYSQL_SSL_MODE: 'disabled' })).toBeUndefined();
    expect(options({ MYSQL_SSL_MODE: 'required' })).toEqual({ rejectUnauthorized: false, verifyIdentity: false });
    expect(options({ MYSQL_SSL_MODE: 'verify-ca', MYSQL_SSL_CA: ca })).toMatchObject({ rejectUnauthorized: true, verifyIdentity: false });
    // verify-full without a CA of its own trusts Node's bundled public CAs.
    expect(options({ MYSQL_SSL_MODE: 'verify-full' })).toEqual({ rejectUnauthorized: true, verifyIdentity: true });
    expect(options({ MYSQL_SSL_MODE: 'verify-full', MYSQL_SSL_CA: ca, MYSQL_SSL_CERT: cert, MYSQL_SSL_KEY: key })).toMatchObject({
      cert: expect.stringContaining('MIIBclient.pem') as unknown,
      key: expect.stringContaining('BEGIN PRIVATE KEY') as unknown,
    });
  });

  it('gives every connection an object of its own, which mysql2 may write to', () => {
    const tls = loadConfig({ MYSQL_SSL_CA: ca }).mysql.ssl;
    expect(Object.isFrozen(tls)).toBe(true);
    const first = mysqlSslOptions(tls);
    expect(first).not.toBe(mysqlSslOptions(tls));
    expect(Object.isFrozen(first)).toBe(false);
  });

  it('refuses an unknown mode, and a client certificate without its key or the other way round', () => {
    expect(configProblems({ MYSQL_SSL_MODE: 'prefer' })).toEqual(['MYSQL_SSL_MODE: expected disabled, required, verify-ca, verify-full']);
    expect(configProblems({ MYSQL_SSL_CA: ca, MYSQL_SSL_CERT: cert })).toEqual([
      'MYSQL_SSL_KEY: the client certificate (MYSQL_SSL_CERT) and its key (MYSQL_SSL_KEY) come together',
    ]);
    expect(configProblems({ MYSQL_SSL_CA: ca, MYSQL_SSL_KEY: key })).toEqual([
      'MYSQL_SSL_CERT: the client certificate (MYSQL_SSL_CERT) and its key (MYSQL_SSL_KEY) come together',
    ]);
  });

  it('refuses a file it cannot read or that holds no PEM, naming the variable', () => {
    const missing = join(dir, 'missing.pem');
    expect(configProblems({ MYSQL_SSL_CA: missing })).toEqual([`MYSQL_SSL_CA: cannot read ${missing} (ENOENT)`]);
    const notPem = join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    expect(configProblems({ MYSQL_SSL_MODE: 'required', MYSQL_SSL_CERT: notPem, MYSQL_SSL_KEY: key })).toEqual([`MYSQL_SSL_CERT: ${notPem} is not a PEM file`]);
    expect(configProblems({ MYSQL_SSL_MODE: 'required', MYSQL_SSL_CERT: cert, MYSQL_SSL_KEY: dir })).toEqual([`MYSQL_SSL_KEY: cannot read ${dir} (EISDIR)`]);
    if (process.getuid?.() !== 0) {
      const locked = pem('locked.pem');
      chmodSync(locked, 0o000);
      expect(configProblems({ MYSQL_SSL_CA: locked })).toEqual([`MYSQL_SSL_CA: cannot read ${locked} (EACCES)`]);
    }
  });

  it('refuses settings that would be silently ignored', () => {
    expect(configProblems({ MYSQL_SSL_MODE: 'disabled', MYSQL_SSL_CA: ca })).toEqual([
      'MYSQL_SSL_MODE: TLS is disabled, yet MYSQL_SSL_CA is set: choose required, verify-ca or verify-full, or remove them',
    ]);
    expect(configProblems({ MYSQL_SSL_CERT: cert, MYSQL_SSL_KEY: key })).toEqual([
      'MYSQL_SSL_MODE: TLS is disabled, yet MYSQL_SSL_CERT and MYSQL_SSL_KEY are set: choose required, verify-ca or verify-full, or remove them',
    ]);
    expect(configProblems({ MYSQL_SSL_MODE: 'required', MYSQL_SSL_CA: ca })).toEqual([
      'MYSQL_SSL_MODE: required does not check the server\'s certificate, so MYSQL_SSL_CA would be ignored: choose verify-ca or verify-full',
    ]);
    expect(configProblems({ MYSQL_SSL_MODE: 'verify-ca' })).toEqual(['MYSQL_SSL_CA: required with MYSQL_SSL_MODE=verify-ca: the CA the server\'s certificate must chain to']);
  });
});
