import type { DataSource } from 'typeorm';
import { MessageRecordStatus, Sms } from '../../entities/customer-service/sms.entity';
import { SESSION_SETUP_SQL } from '../../entities/data-source';
import { insertIfAbsent } from '../../entities/raw-sql';
import { clearTables, openTestDataSource } from '../support/db';
import { testConfig } from '../support/env';

/** The hub's writes refuse a value their column cannot hold, rather than store it cut with a warning. */
describe('strict writes', () => {
  let db: DataSource;
  const now = new Date('2026-11-23T02:00:00.000Z');
  const smsRow = (smsId: string, over: Partial<Sms> = {}): Partial<Sms> => ({
    smsId, phone: '13800000000', templateId: 'notice', params: '{}', content: 'x', status: MessageRecordStatus.PENDING, createdAt: now, ...over,
  });
  const sqlMode = async (run: (sql: string, params?: unknown[]) => Promise<unknown>): Promise<string> =>
    ((await run('SELECT @@SESSION.sql_mode AS mode')) as [{ mode: string }])[0].mode;

  beforeAll(async () => {
    db = await openTestDataSource(testConfig());
    await clearTables(db, [Sms]);
  });
  afterAll(async () => {
    await clearTables(db, [Sms]);
    await db.destroy();
  });

  it('runs every pooled connection with STRICT_TRANS_TABLES', async () => {
    const runners = await Promise.all(Array.from({ length: 4 }, async () => {
      const runner = db.createQueryRunner();
      await runner.connect();
      return runner;
    }));
    const modes = await Promise.all(runners.map((r) => sqlMode((sql) => r.query(sql))));
    await Promise.all(runners.map((r) => r.release()));
    for (const mode of modes) expect(mode.split(',')).toContain('STRICT_TRANS_TABLES');
  });

  it.each([
    ['no mode at all', '', 'STRICT_TRANS_TABLES'],
    ['a lax server default', 'NO_ENGINE_SUBSTITUTION', 'NO_ENGINE_SUBSTITUTION,STRICT_TRANS_TABLES'],
    ['a mode already strict', 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION', 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'],
  ])('turns a session with %s strict, keeping its other modes', async (_what, before, after) => {
    const runner = db.createQueryRunner();
    await runner.connect();
    try {
      const original = await sqlMode((sql) => runner.query(sql));
      await runner.query('SET SESSION sql_mode = ?', [before]);
      await runner.query(SESSION_SETUP_SQL, ['+08:00']);
      // The server lists modes in its own order.
      expect((await sqlMode((sql) => runner.query(sql))).split(',').sort()).toEqual(after.split(',').sort());
      await runner.query('SET SESSION sql_mode = ?', [original]);
    } finally {
      await runner.release();
    }
  });

  it('insertIfAbsent writes a row once: a duplicate of its key is 0 rows, and leaves the transaction going', async () => {
    const first = await insertIfAbsent(db.manager, Sms, smsRow('strict-once'));
    expect(first.affectedRows).toBe(1);
    expect(first.insertId).toMatch(/^\d+$/);
    await db.transaction(async (m) => {
      expect(await insertIfAbsent(m, Sms, smsRow('strict-once', { content: 'other' }))).toEqual({ affectedRows: 0, insertId: null });
      expect((await insertIfAbsent(m, Sms, smsRow('strict-after-duplicate'))).affectedRows).toBe(1);
    });
    expect(await db.getRepository(Sms).findOneByOrFail({ smsId: 'strict-once' })).toMatchObject({ content: 'x' });
    expect(await db.getRepository(Sms).countBy({ smsId: 'strict-after-duplicate' })).toBe(1);
  });

  it('insertIfAbsent fails loudly on a value too long for its column, where INSERT IGNORE stored it cut', async () => {
    const templateId = `template-${'t'.repeat(50)}`; // sms.template_id is VARCHAR(50)
    await expect(insertIfAbsent(db.manager, Sms, smsRow('strict-long', { templateId }))).rejects.toMatchObject({ driverError: { code: 'ER_DATA_TOO_LONG' } });
    expect(await db.getRepository(Sms).countBy({ smsId: 'strict-long' })).toBe(0);

    // What the old helper did, strict mode or not: the row written, its template id silently cut.
    await db.query('INSERT IGNORE INTO sms (sms_id, phone, template_id, content, created_at) VALUES (?, ?, ?, ?, ?)', ['strict-ignored', '13800000000', templateId, 'x', now]);
    expect((await db.getRepository(Sms).findOneByOrFail({ smsId: 'strict-ignored' })).templateId).toBe(templateId.slice(0, 50));
  });

  it('insertIfAbsent fails loudly on a value its column type refuses', async () => {
    await expect(insertIfAbsent(db.manager, Sms, { ...smsRow('strict-bad-date'), createdAt: '2026-13-45' as unknown as Date })).rejects.toMatchObject({ driverError: { code: 'ER_TRUNCATED_WRONG_VALUE' } });
    expect(await db.getRepository(Sms).countBy({ smsId: 'strict-bad-date' })).toBe(0);
  });
});
