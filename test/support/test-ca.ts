import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** PEM files of a throwaway PKI for TLS tests (MySQL, Redis): every path is absolute. */
export interface TestCa {
  readonly dir: string;
  /** The CA every certificate below is signed by. */
  readonly caFile: string;
  /** CN=localhost, subjectAltName DNS:localhost, IP:127.0.0.1; for clients too, as a Redis cluster node is to the others over its TLS bus. */
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** CN=db.example.internal with only that name: right chain, wrong host for 127.0.0.1 (verify-full must refuse it). */
  readonly otherHostCertFile: string;
  readonly otherHostKeyFile: string;
  /** CN=jobhub-client, for servers that ask for a client certificate. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** A second CA that signed none of the above. */
  readonly wrongCaFile: string;
  /** Removes the directory (only when makeTestCa created it). */
  remove(): void;
}

const DAYS = '2';

async function openssl(args: readonly string[]): Promise<void> {
  await run('openssl', [...args]).catch((err: Error & { stderr?: string }) => {
    throw new Error(`openssl ${args[0] ?? ''} failed: ${err.stderr ?? err.message}`);
  });
}

async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  await openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', DAYS,
    '-subj', `/CN=jobhub test ${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

/** A leaf certificate signed by `ca`; `extensions` go into its v3 section (SAN, key usage). */
async function makeLeaf(dir: string, name: string, ca: { cert: string; key: string }, cn: string, extensions: readonly string[]): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', ...extensions, ''].join('\n'));
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${cn}`]);
  await openssl(['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-out', cert, '-days', DAYS, '-sha256', '-extfile', ext]);
  return { cert, key };
}

/**
 * A CA with a server certificate for localhost/127.0.0.1, one for another host name, a client
 * certificate, and an unrelated CA, made with the openssl command line in `dir` (default: a new
 * directory under the system's temp dir).
 */
export async function makeTestCa(dir?: string): Promise<TestCa> {
  const owned = dir === undefined;
  const root = dir ?? mkdtempSync(join(tmpdir(), 'jobhub-ca-'));
  mkdirSync(root, { recursive: true });
  const ca = await makeCa(root, 'ca');
  const wrong = await makeCa(root, 'wrong-ca');
  const [server, otherHost, client] = await Promise.all([
    makeLeaf(root, 'server', ca, 'localhost', ['extendedKeyUsage=serverAuth,clientAuth', 'subjectAltName=DNS:localhost,IP:127.0.0.1']),
    makeLeaf(root, 'other-host', ca, 'db.example.internal', ['extendedKeyUsage=serverAuth', 'subjectAltName=DNS:db.example.internal']),
    makeLeaf(root, 'client', ca, 'jobhub-client', ['extendedKeyUsage=clientAuth']),
  ]);
  return {
    dir: root,
    caFile: ca.cert,
    serverCertFile: server.cert,
    serverKeyFile: server.key,
    otherHostCertFile: otherHost.cert,
    otherHostKeyFile: otherHost.key,
    clientCertFile: client.cert,
    clientKeyFile: client.key,
    wrongCaFile: wrong.cert,
    remove() {
      if (owned) rmSync(root, { recursive: true, force: true });
    },
  };
}
