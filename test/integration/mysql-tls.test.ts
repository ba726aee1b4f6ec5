import type { RowDataPacket } from 'mysql2/promise';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../entities/data-source';
import { migrate } from '../../entities/schema/migrate';
import { withServerConnection } from '../../entities/schema/mysql-server';
import { loadConfig, type Config } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import { withNamedLock } from '../../lib/named-lock';
import { preparePrivateDatabase, startPrivateMariadb, type PrivateMariadb } from '../support/private-mariadb';
import { track } from '../support/resources';
import { makeTestCa, type TestCa } from '../support/test-ca';

const log = createLogger({ level: 'silent' });

function hubConfig(url: string, tls: Record<string, string> = {}): Config {
  return loadConfig({ HUB_ENV: 'development', LOG_LEVEL: 'silent', MYSQL_URL: url, HUB_DEMO_DATA: 'false', ...tls });
}

/** The cipher of the session that runs the query: empty without TLS. */
async function sslCipher(db: DataSource): Promise<string> {
  const rows = (await db.query("SHOW STATUS LIKE 'Ssl_cipher'")) as { Value: string }[];
  return rows[0]?.Value ?? '';
}

/** Opens the hub's data source with `config`, runs `check`, closes it. */
async function withDataSource<T>(config: Config, check: (db: DataSource) => Promise<T>): Promise<T> {
  const db = track({ kind: 'data-source', value: await createDataSource(config) });
  try {
    return await check(db);
  } finally {
    await db.destroy();
  }
}

const refusal = (config: Config): Promise<Error> =>
  withDataSource(config, () => Promise.resolve()).then(
    () => {
      throw new Error('connected, but should have been refused');
    },
    (err: Error) => err,
  );

describe('TLS to MySQL', () => {
  let ca: TestCa;
  let server: PrivateMariadb;
  /** Same CA, but its certificate names db.example.internal, not 127.0.0.1. */
  let otherHost: PrivateMariadb;

  beforeAll(async () => {
    ca = await makeTestCa();
    const tlsArgs = (cert: string, key: string): string[] => [`--ssl-ca=${ca.caFile}`, `--ssl-cert=${cert}`, `--ssl-key=${key}`, '--require-secure-transport=ON'];
    // One after the other: should the second fail, afterAll still closes the first.
    server = await startPrivateMariadb({ args: tlsArgs(ca.serverCertFile, ca.serverKeyFile) });
    otherHost = await startPrivateMariadb({ args: tlsArgs(ca.otherHostCertFile, ca.otherHostKeyFile) });
  }, 120_000);
  afterAll(async () => {
    await Promise.all([server?.close(), otherHost?.close()]);
    ca?.remove();
  });

  it('verify-full with the right CA: the pool, the schema connection and the named lock all talk TLS', async () => {
    const config = hubConfig(server.url, { MYSQL_SSL_CA: ca.caFile });
    expect(config.mysql.ssl?.mode).toBe('verify-full');
    // migrate opens the schema connection and a pool of its own; the server refuses either without TLS.
    await migrate(config, log);
    await withDataSource(config, async (db) => {
      expect(await sslCipher(db)).not.toBe('');
      const [migrations] = (await db.query('SELECT COUNT(*) AS n FROM hub_migrations')) as { n: string | number }[];
      expect(Number(migrations?.n)).toBeGreaterThan(0);
      const held = await withNamedLock({ db, log }, 'jobhub-test-tls-lock', () => new Error('busy'), async () => {
        const [row] = (await db.query("SELECT IS_USED_LOCK('jobhub-test-tls-lock') AS holder")) as { holder: string | number | null }[];
        return row?.holder;
      });
      expect(held).not.toBeNull();
    });
  });

  it('required: encrypted without checking the certificate, so no CA is needed', async () => {
    await withDataSource(hubConfig(server.url, { MYSQL_SSL_MODE: 'required' }), async (db) => {
      expect(await sslCipher(db)).not.toBe('');
    });
  });

  it('verify-full with the wrong CA is refused', async () => {
    const err = await refusal(hubConfig(server.url, { MYSQL_SSL_CA: ca.wrongCaFile }));
    expect(err.message).toMatch(/certificate/i);
  });

  it('verify-full refuses a certificate for another host; verify-ca accepts it', async () => {
    const err = await refusal(hubConfig(otherHost.url, { MYSQL_SSL_MODE: 'verify-full', MYSQL_SSL_CA: ca.caFile }));
    expect(err.message).toMatch(/does not match certificate's altnames/);
    await withDataSource(hubConfig(otherHost.url, { MYSQL_SSL_MODE: 'verify-ca', MYSQL_SSL_CA: ca.caFile }), async (db) => {
      expect(await sslCipher(db)).not.toBe('');
    });
  });

  it('disabled: the server refuses the login (require_secure_transport)', async () => {
    // MariaDB answers a plain-text login under require_secure_transport as a bad one (1045); the
    // same credentials over TLS log in (above).
    const err = await refusal(hubConfig(server.url));
    expect(err).toMatchObject({ errno: 1045 });
    expect(err.message).toMatch(/Access denied for user 'jobhub'/);
  });

  it('presents the client certificate when given: a user created REQUIRE X509 logs in only with it', async () => {
    const asRoot = hubConfig(server.rootUrl, { MYSQL_SSL_CA: ca.caFile });
    await withServerConnection(asRoot.mysql, async (conn) => {
      await conn.query("CREATE USER 'x509'@'%' IDENTIFIED BY 'x509-password' REQUIRE X509");
      await conn.query("GRANT SELECT ON `jobhub`.* TO 'x509'@'%'");
    });
    const url = `mysql://x509:x509-password@127.0.0.1:${server.port}/jobhub`;
    const denied = await refusal(hubConfig(url, { MYSQL_SSL_CA: ca.caFile }));
    expect(denied.message).toMatch(/Access denied/);
    const withCert = hubConfig(url, { MYSQL_SSL_CA: ca.caFile, MYSQL_SSL_CERT: ca.clientCertFile, MYSQL_SSL_KEY: ca.clientKeyFile });
    await withDataSource(withCert, async (db) => {
      expect(await sslCipher(db)).not.toBe('');
      const [row] = (await db.query('SELECT CURRENT_USER() AS user')) as { user: string }[];
      expect(row?.user).toBe('x509@%');
    });
  });
});

describe('a private MariaDB', () => {
  let server: PrivateMariadb;

  beforeAll(async () => {
    server = await startPrivateMariadb({ database: 'jobhub_private' });
  }, 60_000);
  afterAll(() => server?.close());

  const query = <T extends RowDataPacket[]>(url: string, sql: string): Promise<T> =>
    withServerConnection(hubConfig(url).mysql, async (conn) => (await conn.query<T>(sql))[0]);
  const errnoOf = (url: string, sql: string): Promise<number | undefined> =>
    query(url, sql).then(
      () => undefined,
      (err: { errno?: number }) => err.errno,
    );

  it('carries the business schema and the hub\'s migrations once prepared', async () => {
    await preparePrivateDatabase(server);
    const [row] = await query(server.url, 'SELECT COUNT(*) AS n FROM jobhub_private.hub_migrations');
    expect(Number(row?.n)).toBeGreaterThan(0);
    const tables = await query(server.url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'jobhub_private' AND table_name = 'payment_order'");
    expect(tables).toHaveLength(1);
  }, 60_000);

  it('binds the jobhub user by read_only (1290), which it may not lift itself (1227) nor read the grant tables (1142)', async () => {
    await query(server.url, 'CREATE TABLE jobhub_private.ro_probe (id INT PRIMARY KEY)');
    await server.setReadOnly(true);
    try {
      expect(await errnoOf(server.url, 'INSERT INTO jobhub_private.ro_probe VALUES (1)')).toBe(1290);
      expect(await errnoOf(server.url, 'SET GLOBAL read_only = OFF')).toBe(1227);
    } finally {
      await server.setReadOnly(false);
    }
    await query(server.url, 'INSERT INTO jobhub_private.ro_probe VALUES (1)');
    expect(await errnoOf(server.url, 'SELECT COUNT(*) FROM mysql.global_priv')).toBe(1142);
    // Root may, over TCP without a password.
    expect(await query(server.rootUrl, 'SELECT COUNT(*) AS n FROM mysql.global_priv')).toHaveLength(1);
  });

  it('keeps its data and port across stop and start', async () => {
    await query(server.url, 'CREATE TABLE jobhub_private.survivor (id INT PRIMARY KEY)');
    await query(server.url, 'INSERT INTO jobhub_private.survivor VALUES (7)');
    const port = server.port;
    await server.stop();
    // Refused: the error carries ECONNREFUSED's errno.
    expect(await errnoOf(server.url, 'SELECT 1')).toBeDefined();
    await server.start();
    expect(server.port).toBe(port);
    const rows = await query(server.url, 'SELECT id FROM jobhub_private.survivor');
    expect(rows.map((r) => Number(r.id))).toEqual([7]);
  }, 60_000);
});
