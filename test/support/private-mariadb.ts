import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { applyBusinessSchema } from '../../entities/schema/apply-business-schema';
import { migrate } from '../../entities/schema/migrate';
import { loadConfig } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import { onFreePort, stopChild } from './private-redis';
import { track } from './resources';

export interface PrivateMariadb {
  readonly port: number;
  /** mysql://jobhub:<password>@127.0.0.1:<port>/<database>: a user WITHOUT super privileges (so SET GLOBAL read_only binds it), ALL on every database except mysql. */
  readonly url: string;
  /** The same server as root (for setup and faults). */
  readonly rootUrl: string;
  /** Stops the server (SIGTERM, waits for exit); data kept. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data dir; resolves once it accepts logins. */
  start(): Promise<void>;
  /** SET GLOBAL read_only = ON/OFF, as root. */
  setReadOnly(on: boolean): Promise<void>;
  /** Stops it for good and removes its data dir; for afterAll. */
  close(): Promise<void>;
}

export interface PrivateMariadbOptions {
  /** Default 'jobhub'. */
  database?: string;
  /** More mariadbd arguments, e.g. TLS (`--ssl-cert=…`, `--require-secure-transport=ON`). */
  args?: readonly string[];
}

const MARIADBD = '/usr/sbin/mariadbd';
const START_TIMEOUT_MS = 30_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Root over the server's unix socket: it works whatever TLS the test demands on TCP
 * (require_secure_transport does not apply to a local socket).
 */
async function asRoot<T>(socketPath: string, work: (conn: mysql.Connection) => Promise<T>): Promise<T> {
  const conn = await mysql.createConnection({ socketPath, user: 'root', connectTimeout: 2_000 });
  try {
    return await work(conn);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

/**
 * A mariadbd of the test's own, for faults (stopped, read-only) and for TLS setups the shared
 * server does not have. Small buffers and no binary log, so it installs and starts in seconds.
 */
export async function startPrivateMariadb(options: PrivateMariadbOptions = {}): Promise<PrivateMariadb> {
  const database = options.database ?? 'jobhub';
  const dir = mkdtempSync(join(tmpdir(), 'jobhub-mariadb-'));
  const dataDir = join(dir, 'data');
  const socketPath = join(dir, 'mysqld.sock');
  const tmp = join(dir, 'tmp');
  const password = randomBytes(12).toString('hex');
  let child: ChildProcess | undefined;
  let output = '';
  const running = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;

  try {
    mkdirSync(tmp);
    // Its own tmpdir: servers bootstrapping at once in one /tmp collide on temporary table names.
    await promisify(execFile)('mariadb-install-db', [
      '--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--user=root', `--tmpdir=${tmp}`,
    ]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed: ${(err as Error & { stderr?: string }).stderr ?? (err as Error).message}`);
  }

  let port = 0;
  const launch = async (): Promise<void> => {
    if (running()) return;
    output = '';
    const proc = spawn(
      MARIADBD,
      [
        '--no-defaults', '--user=root', `--datadir=${dataDir}`, `--port=${port}`, `--socket=${socketPath}`, `--pid-file=${join(dir, 'mariadbd.pid')}`, `--tmpdir=${tmp}`,
        '--bind-address=127.0.0.1', '--skip-name-resolve', '--skip-log-bin', '--innodb-buffer-pool-size=32M', '--innodb-log-file-size=16M',
        '--key-buffer-size=1M', '--max-connections=200', '--performance-schema=OFF',
        ...(options.args ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (d: Buffer): void => {
      output = (output + d.toString()).slice(-8_000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    proc.once('error', (err) => (output += `\n${err.message}`));
    child = proc;
    for (let waited = 0; waited < START_TIMEOUT_MS; waited += 100) {
      if (!running()) throw new Error(`mariadbd on port ${port} exited at start:\n${output}`);
      if (await asRoot(socketPath, (conn) => conn.query('SELECT 1')).then(() => true, () => false)) return;
      await sleep(100);
    }
    await halt();
    throw new Error(`mariadbd on port ${port} accepted no login within ${START_TIMEOUT_MS / 1000} s:\n${output}`);
  };

  const halt = (): Promise<void> => stopChild(child, 'SIGTERM');

  port = await onFreePort(async (free) => {
    port = free;
    await launch();
  }).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  track({ kind: 'closable', label: `mariadbd :${port}`, value: { isOpen: running } });

  const close = async (): Promise<void> => {
    await halt();
    rmSync(dir, { recursive: true, force: true });
  };
  await asRoot(socketPath, async (conn) => {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await conn.query("CREATE USER 'jobhub'@'%' IDENTIFIED BY ?", [password]);
    // Database-level grants only, so no SUPER or READ ONLY ADMIN: read_only binds this user as it
    // binds the hub's login on a managed server. The server takes the most specific matching
    // database row, so the one on `mysql` shadows the `%` row there: no access to the grant tables.
    await conn.query("GRANT ALL PRIVILEGES ON `%`.* TO 'jobhub'@'%'");
    await conn.query("GRANT SHOW VIEW ON `mysql`.* TO 'jobhub'@'%'");
  }).catch(async (err: unknown) => {
    await close();
    throw err;
  });

  return {
    port,
    url: `mysql://jobhub:${password}@127.0.0.1:${port}/${database}`,
    rootUrl: `mysql://root@127.0.0.1:${port}/${database}`,
    stop: halt,
    start: launch,
    async setReadOnly(on: boolean) {
      await asRoot(socketPath, (conn) => conn.query(`SET GLOBAL read_only = ${on ? 'ON' : 'OFF'}`));
    },
    close,
  };
}

/** The business schema and the hub's migrations applied to a private server's database, as global-setup does for the shared one. */
export async function preparePrivateDatabase(server: PrivateMariadb): Promise<void> {
  // Root over plain TCP: a server started with --require-secure-transport needs its tables made another way.
  const config = loadConfig({ HUB_ENV: 'development', LOG_LEVEL: 'silent', MYSQL_URL: server.rootUrl, HUB_DEMO_DATA: 'false' });
  const log = createLogger({ level: 'silent' });
  await applyBusinessSchema(config, log);
  await migrate(config, log);
}
