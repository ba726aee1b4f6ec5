import type mysql from 'mysql2/promise';
import { migrate } from '../../entities/schema/migrate';
import { MIGRATIONS } from '../../entities/migrations';
import { withServerConnection } from '../../entities/schema/mysql-server';
import { createLogger } from '../../lib/logger';
import { TEST_MYSQL_SERVER, childEnv, testConfig, workerDatabase } from '../support/env';
import { spawnBuilt } from '../support/processes';

const log = createLogger({ level: 'silent' });

const withServer = <T>(work: (conn: mysql.Connection) => Promise<T>): Promise<T> => withServerConnection(testConfig().mysql, work);

const tablesOf = (db: string): Promise<string[]> =>
  withServer(async (conn) => {
    const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name', [db]);
    return rows.map((r) => String(r.t));
  });

const migrationRows = (db: string): Promise<string[]> =>
  withServer(async (conn) => {
    const [rows] = await conn.query<mysql.RowDataPacket[]>(`SELECT name FROM \`${db}\`.hub_migrations ORDER BY id`);
    return rows.map((r) => String(r.name));
  });

describe('migrations', () => {
  const fresh = `${workerDatabase()}_migrate`;
  const dropFresh = (): Promise<unknown> => withServer((conn) => conn.query(`DROP DATABASE IF EXISTS \`${fresh}\``));

  beforeEach(dropFresh);
  afterAll(dropFresh);

  it('creates the database, applies every migration once, and is a no-op the second time', async () => {
    const config = testConfig({ MYSQL_URL: `${TEST_MYSQL_SERVER}/${fresh}` });
    expect(await migrate(config, log)).toEqual(MIGRATIONS.map((m) => m.name));
    expect(await migrate(config, log)).toEqual([]);
    expect(await tablesOf(fresh)).toEqual([
      'hub_alert',
      'hub_apple_orphan',
      'hub_apple_subscription',
      'hub_apple_transaction',
      'hub_apple_vip',
      'hub_audit',
      'hub_canary',
      'hub_cursor',
      'hub_message_delivery',
      'hub_migrations',
      'hub_outbox',
      'hub_reconciliation_bill_row',
      'hub_reconciliation_item',
      'hub_reconciliation_run',
      'hub_share_first_reach',
      'hub_share_first_referral',
      'hub_share_resource',
      'hub_sms_template',
    ]);
    expect(await migrationRows(fresh)).toEqual(MIGRATIONS.map((m) => m.name));
  });

  it('runs from two processes at once without harm', async () => {
    const env = childEnv({ MYSQL_URL: `${TEST_MYSQL_SERVER}/${fresh}` });
    const runs = [spawnBuilt('cli/migrate.main.js', env), spawnBuilt('cli/migrate.main.js', env)];
    const codes = await Promise.all(runs.map((r) => r.exited()));
    expect(codes).toEqual([0, 0]);
    expect(await migrationRows(fresh)).toEqual(MIGRATIONS.map((m) => m.name));
    const applied = runs.map((r) => /"msg":"migrations applied"/.test(r.stdout()));
    expect(applied.filter(Boolean)).toHaveLength(1);
  });
});
