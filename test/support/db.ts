import type { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import { createDataSource } from '../../entities/data-source';
import type { Config } from '../../lib/config';
import { TEST_DB_PATTERN } from './env';
import { track } from './resources';

export async function openTestDataSource(config: Config): Promise<DataSource> {
  return track({ kind: 'data-source', value: await createDataSource(config) });
}

/** Empties only the tables a file names, and only in a test database. */
export async function clearTables(db: DataSource, entities: EntityTarget<ObjectLiteral>[]): Promise<void> {
  for (const entity of entities) {
    const meta = db.getMetadata(entity);
    const database = meta.database ?? (db.options.database as string);
    if (!TEST_DB_PATTERN.test(database)) throw new Error(`refusing to clear ${database}.${meta.tableName}: not a test database`);
    await db.query(`DELETE FROM \`${database}\`.\`${meta.tableName}\``);
  }
}
