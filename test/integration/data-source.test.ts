import type { DataSource } from 'typeorm';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { SmsCodeTemp } from '../../entities/customer-service/sms-code-temp.entity';
import { applyBusinessSchema } from '../../entities/schema/apply-business-schema';
import { BusinessSource, OperationType, writeAudit } from '../../entities/dms/audit';
import { createLogger } from '../../lib/logger';
import { parseBeijing } from '../../lib/time';
import { clearTables, openTestDataSource } from '../support/db';
import { testConfig, workerDatabase } from '../support/env';

describe('the data source', () => {
  let db: DataSource;

  beforeAll(async () => {
    db = await openTestDataSource(testConfig());
  });
  afterAll(async () => {
    await db.destroy();
  });

  it('chooses the driver type from the server version', async () => {
    const [{ version }] = (await db.query('SELECT VERSION() AS version')) as [{ version: string }];
    expect(db.options.type).toBe(/mariadb/i.test(version) ? 'mariadb' : 'mysql');
  });

  it('sets the Beijing session time zone on every pooled connection', async () => {
    const runners = await Promise.all(Array.from({ length: 6 }, async () => {
      const runner = db.createQueryRunner();
      await runner.connect();
      return runner;
    }));
    const zones = await Promise.all(runners.map(async (r) => ((await r.query('SELECT @@session.time_zone AS tz')) as [{ tz: string }])[0].tz));
    const ids = await Promise.all(runners.map(async (r) => ((await r.query('SELECT CONNECTION_ID() AS id')) as [{ id: string }])[0].id));
    await Promise.all(runners.map((r) => r.release()));
    expect(new Set(ids).size).toBe(6);
    expect(zones).toEqual(Array(6).fill('+08:00'));
  });

  it('writes and reads DATETIME as Beijing wall time, and bigint ids as strings', async () => {
    await clearTables(db, [SmsCodeTemp]);
    const expireTime = parseBeijing('2026-11-23 08:00:00');
    const { identifiers } = await db.getRepository(SmsCodeTemp).insert({ phone: '13800000000', code: '123456', expireTime });
    const id = identifiers[0]?.id as string;
    expect(typeof id).toBe('string');
    const [raw] = (await db.query('SELECT CAST(expire_time AS CHAR) AS t FROM sms_code_temps WHERE id = ?', [id])) as [{ t: string }];
    expect(raw.t).toBe('2026-11-23 08:00:00.000');
    const row = await db.getRepository(SmsCodeTemp).findOneByOrFail({ id });
    expect(row.expireTime.toISOString()).toBe(expireTime.toISOString());
    await clearTables(db, [SmsCodeTemp]);
  });
});

describe('systems in separate databases', () => {
  const otherDms = `${workerDatabase()}_dms`;
  let db: DataSource;

  beforeAll(async () => {
    const config = testConfig({ DMS_DB: otherDms });
    await applyBusinessSchema(config, createLogger({ level: 'silent' }));
    db = await openTestDataSource(config);
  });
  afterAll(async () => {
    await db.query(`DROP DATABASE IF EXISTS \`${otherDms}\``);
    await db.destroy();
  });

  it('qualifies only the tables of the system whose database differs', () => {
    expect(db.getMetadata(DmsBusinessLog).tablePath).toBe(`${otherDms}.dms_business_log`);
    expect(db.getMetadata(SmsCodeTemp).tablePath).toBe('sms_code_temps');
  });

  it('spans both databases in one transaction: both rows commit, or neither does', async () => {
    await clearTables(db, [SmsCodeTemp, DmsBusinessLog]);
    const at = parseBeijing('2026-11-23 10:00:00');
    const change = async (code: string, fail: boolean): Promise<void> =>
      db.transaction(async (manager) => {
        await manager.insert(SmsCodeTemp, { phone: '13900000000', code, expireTime: at });
        await writeAudit(manager, { businessNo: code, source: BusinessSource.PAYMENT, operation: OperationType.CREATE, newValue: { code } }, at);
        if (fail) throw new Error('rolled back on purpose');
      });

    await expect(change('ROLLBACK', true)).rejects.toThrow('rolled back on purpose');
    expect(await db.getRepository(SmsCodeTemp).countBy({ code: 'ROLLBACK' })).toBe(0);
    expect(await db.getRepository(DmsBusinessLog).countBy({ businessNo: 'ROLLBACK' })).toBe(0);

    await change('COMMIT', false);
    expect(await db.getRepository(SmsCodeTemp).countBy({ code: 'COMMIT' })).toBe(1);
    const [audit] = (await db.query(`SELECT business_source, operation_type, change_fields, create_user FROM \`${otherDms}\`.dms_business_log WHERE business_no = 'COMMIT'`)) as Record<string, unknown>[];
    expect(audit).toMatchObject({ business_source: BusinessSource.PAYMENT, operation_type: OperationType.CREATE, change_fields: '["code"]', create_user: '0' });
    await clearTables(db, [SmsCodeTemp, DmsBusinessLog]);
  });
});
