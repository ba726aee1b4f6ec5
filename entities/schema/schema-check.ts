import type { DataSource } from 'typeorm';
import type { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import type { EntityMetadata } from 'typeorm/metadata/EntityMetadata';

export interface SchemaProblem {
  /** `database.table` */
  table: string;
  column?: string;
  problem: string;
  /**
   * A missing table, column or unique key: jobs using the table would fail, or worse, write
   * duplicates. Type, length and nullability differences are reported but let jobs run.
   */
  blocking: boolean;
}

interface DbColumn {
  name: string;
  dataType: string;
  columnType: string;
  nullable: boolean;
  maxLength: number | null;
  datetimePrecision: number | null;
}

/**
 * Compares every entity with what the server has: tables, columns (type, sign, length, precision,
 * nullability) and the unique keys idempotency relies on. The business tables belong to other
 * systems, so this is how a deployment learns that its DDL differs from what the hub expects.
 */
export async function checkSchema(db: DataSource): Promise<SchemaProblem[]> {
  const problems: SchemaProblem[] = [];
  for (const meta of db.entityMetadatas) {
    const database = meta.database ?? String(db.options.database);
    const table = `${database}.${meta.tableName}`;
    const columns = await readColumns(db, database, meta.tableName);
    if (columns.size === 0) {
      problems.push({ table, problem: 'table missing', blocking: true });
      continue;
    }
    for (const column of meta.columns) {
      const actual = columns.get(column.databaseName.toLowerCase());
      if (!actual) problems.push({ table, column: column.databaseName, problem: 'column missing', blocking: true });
      else for (const problem of compareColumn(db, column, actual)) problems.push({ table, column: column.databaseName, problem, blocking: false });
    }
    const uniques = await readUniqueKeys(db, database, meta.tableName);
    for (const key of expectedUniqueKeys(meta)) {
      if (!uniques.some((u) => sameSet(u, key))) {
        problems.push({ table, problem: `unique key (${key.join(', ')}) missing: duplicates would no longer be refused`, blocking: true });
      }
    }
  }
  return problems;
}

/** `database.table[.column]: problem`: one problem on one line, as the report and the guard print it. */
export function describeSchemaProblem(p: SchemaProblem): string {
  return `${p.table}${p.column ? `.${p.column}` : ''}: ${p.problem}`;
}

export function formatSchemaReport(problems: readonly SchemaProblem[]): string {
  if (problems.length === 0) return 'schema check: every entity matches the database';
  const lines = problems.map((p) => `  ${describeSchemaProblem(p)}`);
  return `schema check: ${problems.length} problem(s)\n${lines.join('\n')}`;
}

function compareColumn(db: DataSource, column: ColumnMetadata, actual: DbColumn): string[] {
  const problems: string[] = [];
  const expected = String(db.driver.normalizeType(column)).toLowerCase();
  const typeMatches = expected === actual.dataType || (expected === 'json' && actual.dataType === 'longtext');
  if (!typeMatches) problems.push(`type is ${actual.columnType}, expected ${expected}`);
  if (Boolean(column.unsigned) !== /unsigned/i.test(actual.columnType) && /int|decimal/.test(expected)) {
    problems.push(`is ${column.unsigned ? 'signed' : 'unsigned'}, expected ${column.unsigned ? 'unsigned' : 'signed'}`);
  }
  if (column.length && actual.maxLength !== null && Number(column.length) !== actual.maxLength) {
    problems.push(`length is ${actual.maxLength}, expected ${column.length}`);
  }
  if (expected === 'datetime' && (column.precision ?? 0) !== (actual.datetimePrecision ?? 0)) {
    problems.push(`fractional seconds are ${actual.datetimePrecision ?? 0}, expected ${column.precision ?? 0}`);
  }
  if (column.isNullable !== actual.nullable) problems.push(actual.nullable ? 'allows NULL, expected NOT NULL' : 'is NOT NULL, expected to allow NULL');
  return problems;
}

function expectedUniqueKeys(meta: EntityMetadata): string[][] {
  const keys = [meta.primaryColumns.map((c) => c.databaseName)];
  for (const u of meta.uniques) keys.push(u.columns.map((c) => c.databaseName));
  for (const i of meta.indices) if (i.isUnique) keys.push(i.columns.map((c) => c.databaseName));
  return keys.filter((k) => k.length > 0);
}

async function readColumns(db: DataSource, database: string, table: string): Promise<Map<string, DbColumn>> {
  const rows = (await db.query(
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, IS_NULLABLE AS nullable,
            CHARACTER_MAXIMUM_LENGTH AS maxLength, DATETIME_PRECISION AS datetimePrecision
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
    [database, table],
  )) as Record<string, unknown>[];
  return new Map(
    rows.map((r) => [
      String(r.name).toLowerCase(),
      {
        name: String(r.name),
        dataType: String(r.dataType).toLowerCase(),
        columnType: String(r.columnType).toLowerCase(),
        nullable: r.nullable === 'YES',
        maxLength: r.maxLength === null ? null : Number(r.maxLength),
        datetimePrecision: r.datetimePrecision === null ? null : Number(r.datetimePrecision),
      },
    ]),
  );
}

async function readUniqueKeys(db: DataSource, database: string, table: string): Promise<string[][]> {
  const rows = (await db.query(
    `SELECT INDEX_NAME AS indexName, COLUMN_NAME AS columnName FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [database, table],
  )) as { indexName: string; columnName: string }[];
  const byIndex = new Map<string, string[]>();
  for (const r of rows) byIndex.set(r.indexName, [...(byIndex.get(r.indexName) ?? []), r.columnName]);
  return [...byIndex.values()];
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const lower = (xs: readonly string[]): string => xs.map((x) => x.toLowerCase()).sort().join('\u0000');
  return lower(a) === lower(b);
}
