import type { DataSource } from 'typeorm';
import { applyBusinessSchema } from '../../entities/schema/apply-business-schema';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { HubCursor } from '../../entities/hub/hub-cursor.entity';
import { HubOutbox } from '../../entities/hub/hub-outbox.entity';
import { SmsCodeTemp } from '../../entities/customer-service/sms-code-temp.entity';
import { migrate } from '../../entities/schema/migrate';
import { createLogger, type Logger } from '../../lib/logger';
import { startSchemaGuard, type SchemaGuard, type SchemaGuardOptions } from '../../workers/schema-guard';
import { openTestDataSource } from '../support/db';
import { TEST_MYSQL_SERVER, testConfig, workerDatabase } from '../support/env';
import { captureLogger } from '../support/logs';
import { startTcpProxy } from '../support/tcp-proxy';
import { until } from '../support/wait';

/** Decorated nowhere: a job naming it names a table no check ever looked at. */
class NotAnEntity {}

const scratch = `${workerDatabase()}_guard`;
const config = testConfig({ MYSQL_URL: `${TEST_MYSQL_SERVER}/${scratch}` });
const cursorKeyGone = `${scratch}.hub_cursor: unique key (name) missing: duplicates would no longer be refused`;
const dropCursorKey = 'ALTER TABLE hub_cursor DROP PRIMARY KEY';
const restoreCursorKey = 'ALTER TABLE hub_cursor ADD PRIMARY KEY (name)';

let db: DataSource | undefined;
const guards: SchemaGuard[] = [];

function scratchDb(): DataSource {
  if (!db) throw new Error('scratch database not open');
  return db;
}

async function guard(log: Logger, options?: SchemaGuardOptions, source = scratchDb()): Promise<SchemaGuard> {
  const started = await startSchemaGuard(source, log, options);
  guards.push(started);
  return started;
}

const warnings = (lines: Record<string, unknown>[]): string[] => lines.filter((l) => l.level === 'warn').map((l) => String(l.msg));

describe('schema guard', () => {
  // Inside the describe: these run before the leak guard's top-level afterAll.
  beforeAll(async () => {
    const log = createLogger({ level: 'silent' });
    await applyBusinessSchema(config, log);
    await migrate(config, log);
    db = await openTestDataSource(config);
  });

  afterEach(() => {
    for (const g of guards.splice(0)) g.stop();
  });

  afterAll(async () => {
    try {
      await db?.query(`DROP DATABASE \`${scratch}\``);
    } finally {
      await db?.destroy();
    }
  });

  it('lets every job run and reports ready when the schema matches', async () => {
    const { log, lines } = captureLogger('debug');
    const g = await guard(log);
    expect(g.refusalFor({ name: 'all-tables', entities: [SmsCodeTemp, DmsBusinessLog, HubOutbox, HubCursor] })).toBeUndefined();
    expect(g.refusalFor({ name: 'no-tables' })).toBeUndefined();
    expect(g.readiness.name).toBe('schema');
    await expect(g.readiness.run()).resolves.toBeUndefined();
    expect(warnings(lines())).toEqual([]);
    expect(lines().map((l) => l.msg)).toContain('schema check: every entity matches the database');
    // A class the data source does not know was never checked: nothing vouches for its table.
    expect(g.refusalFor({ name: 'typo', entities: [HubCursor, NotAnEntity] })).toBe('schema check: NotAnEntity is not an entity of this data source');
  });

  it('refuses the jobs of a table whose unique key is gone, until a refresh finds it back', async () => {
    let restored = false;
    await scratchDb().query(dropCursorKey);
    try {
      const { log, lines } = captureLogger('debug');
      const g = await guard(log);
      expect(g.refusalFor({ name: 'cursor-job', entities: [HubCursor] })).toBe(`schema check: ${cursorKeyGone}`);
      expect(g.refusalFor({ name: 'sms-job', entities: [SmsCodeTemp, DmsBusinessLog] })).toBeUndefined();
      expect(g.refusalFor({ name: 'no-tables' })).toBeUndefined();
      expect(g.refusalFor({ name: 'empty', entities: [] })).toBeUndefined();
      await expect(g.readiness.run()).rejects.toThrow(`1 blocking schema problem(s): ${cursorKeyGone}`);
      expect(warnings(lines())).toEqual([`schema check: ${cursorKeyGone}`]);

      // The same problems again: not logged a second time.
      await g.refresh();
      expect(warnings(lines())).toHaveLength(1);

      await scratchDb().query(restoreCursorKey);
      restored = true;
      // The verdict is kept between refreshes: no query per job.
      expect(g.refusalFor({ name: 'cursor-job', entities: [HubCursor] })).toBe(`schema check: ${cursorKeyGone}`);
      await Promise.all([g.refresh(), g.refresh()]);
      expect(g.refusalFor({ name: 'cursor-job', entities: [HubCursor] })).toBeUndefined();
      await expect(g.readiness.run()).resolves.toBeUndefined();
      expect(lines().filter((l) => l.msg === 'schema check: every entity matches the database')).toHaveLength(1);
    } finally {
      if (!restored) await scratchDb().query(restoreCursorKey);
    }
  });

  it('reports type, length and nullability differences without refusing jobs or failing readiness', async () => {
    await scratchDb().query('ALTER TABLE sms_code_temps MODIFY phone varchar(11) NOT NULL, MODIFY code char(10) NOT NULL, MODIFY created_at datetime(3) NOT NULL');
    try {
      const { log, lines } = captureLogger('debug');
      const g = await guard(log);
      expect(g.refusalFor({ name: 'sms-job', entities: [SmsCodeTemp] })).toBeUndefined();
      await expect(g.readiness.run()).resolves.toBeUndefined();
      expect(warnings(lines()).sort()).toEqual([
        `schema check: ${scratch}.sms_code_temps.code: type is char(10), expected varchar`,
        `schema check: ${scratch}.sms_code_temps.created_at: is NOT NULL, expected to allow NULL`,
        `schema check: ${scratch}.sms_code_temps.phone: length is 11, expected 20`,
      ]);
      expect(lines().filter((l) => l.level === 'warn').every((l) => l.blocking === false)).toBe(true);
    } finally {
      await scratchDb().query('ALTER TABLE sms_code_temps MODIFY phone varchar(20) NOT NULL, MODIFY code varchar(10) NOT NULL, MODIFY created_at datetime(3) NULL DEFAULT NULL');
    }
  });

  it('names every missing table, column and key a job relies on, in one line', async () => {
    await scratchDb().query('ALTER TABLE sms_code_temps DROP COLUMN used');
    await scratchDb().query('RENAME TABLE hub_outbox TO hub_outbox_moved');
    await scratchDb().query(dropCursorKey);
    try {
      const g = await guard(createLogger({ level: 'silent' }));
      // SmsCodeTemp twice: its reason once.
      expect(g.refusalFor({ name: 'many', entities: [SmsCodeTemp, HubOutbox, HubCursor, SmsCodeTemp] })).toBe(
        `schema check: ${scratch}.sms_code_temps.used: column missing; ${scratch}.hub_outbox: table missing; ${cursorKeyGone}`,
      );
      expect(g.refusalFor({ name: 'audit', entities: [DmsBusinessLog] })).toBeUndefined();
      await expect(g.readiness.run()).rejects.toThrow(/^3 blocking schema problem\(s\): .*hub_outbox: table missing/);
    } finally {
      await scratchDb().query(restoreCursorKey);
      await scratchDb().query('RENAME TABLE hub_outbox_moved TO hub_outbox');
      await scratchDb().query("ALTER TABLE sms_code_temps ADD COLUMN used tinyint(1) DEFAULT 0 COMMENT '是否已使用' AFTER expire_time");
    }
  });

  it('checks again on its own every refreshMs', async () => {
    let restored = false;
    const g = await guard(createLogger({ level: 'silent' }), { refreshMs: 50 });
    const cursorJob = { name: 'cursor-job', entities: [HubCursor] };
    expect(g.refusalFor(cursorJob)).toBeUndefined();
    await scratchDb().query(dropCursorKey);
    try {
      await until('the guard to see the key gone', () => g.refusalFor(cursorJob) !== undefined);
      await scratchDb().query(restoreCursorKey);
      restored = true;
      await until('the guard to see the key back', () => g.refusalFor(cursorJob) === undefined);
    } finally {
      if (!restored) await scratchDb().query(restoreCursorKey);
    }
  });

  it('keeps a failed check as the reason: jobs run, readiness fails, until MySQL answers again', async () => {
    const proxy = await startTcpProxy(config.mysql.host, config.mysql.port);
    const viaProxy = new URL(config.mysql.url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const proxied = await openTestDataSource(testConfig({ MYSQL_URL: viaProxy.toString() }));
    await scratchDb().query(dropCursorKey);
    try {
      const { log, lines } = captureLogger('debug');
      const g = await guard(log, {}, proxied);
      const cursorJob = { name: 'cursor-job', entities: [HubCursor] };
      expect(g.refusalFor(cursorJob)).toBe(`schema check: ${cursorKeyGone}`);

      await proxy.cut();
      await expect(g.refresh()).resolves.toBeUndefined();
      // The job's own queries will fail and be retried; the stale verdict must not hold it back.
      expect(g.refusalFor(cursorJob)).toBeUndefined();
      await expect(g.readiness.run()).rejects.toThrow(/^schema check failed: /);
      expect(warnings(lines())).toContain('schema check failed');

      await proxy.restore();
      await g.refresh();
      expect(g.refusalFor(cursorJob)).toBe(`schema check: ${cursorKeyGone}`);
      await expect(g.readiness.run()).rejects.toThrow(`1 blocking schema problem(s): ${cursorKeyGone}`);
    } finally {
      await scratchDb().query(restoreCursorKey);
      await proxied.destroy();
      await proxy.close();
    }
  });
});
