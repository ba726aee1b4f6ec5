import { applyBusinessSchema } from '../../entities/schema/apply-business-schema';
import { migrate } from '../../entities/schema/migrate';
import { checkSchema, formatSchemaReport } from '../../entities/schema/schema-check';
import { createLogger } from '../../lib/logger';
import { openTestDataSource } from '../support/db';
import { TEST_MYSQL_SERVER, testConfig, workerDatabase } from '../support/env';

describe('schema check', () => {
  it('finds nothing to report on the schema the hub creates', async () => {
    const db = await openTestDataSource(testConfig());
    try {
      expect(await checkSchema(db)).toEqual([]);
    } finally {
      await db.destroy();
    }
  });

  it('reports a dropped column, a shortened one and a missing unique key', async () => {
    const scratch = `${workerDatabase()}_schema`;
    const config = testConfig({ MYSQL_URL: `${TEST_MYSQL_SERVER}/${scratch}` });
    const log = createLogger({ level: 'silent' });
    await applyBusinessSchema(config, log);
    await migrate(config, log);
    const db = await openTestDataSource(config);
    try {
      await db.query('ALTER TABLE sms_code_temps DROP COLUMN used');
      await db.query('ALTER TABLE sms_code_temps MODIFY phone varchar(11) NOT NULL');
      await db.query('ALTER TABLE hub_cursor DROP PRIMARY KEY');
      const problems = await checkSchema(db);
      expect(problems).toEqual([
        { table: `${scratch}.sms_code_temps`, column: 'phone', problem: 'length is 11, expected 20', blocking: false },
        { table: `${scratch}.sms_code_temps`, column: 'used', problem: 'column missing', blocking: true },
        { table: `${scratch}.hub_cursor`, problem: 'unique key (name) missing: duplicates would no longer be refused', blocking: true },
      ]);
      expect(formatSchemaReport(problems)).toContain('schema check: 3 problem(s)');
    } finally {
      await db.query(`DROP DATABASE \`${scratch}\``);
      await db.destroy();
    }
  });
});
