import type { EntityManager } from 'typeorm';
import { isDuplicateKeyError } from '../lib/errors';

export interface InsertIfAbsentResult {
  /** 1 when the row was inserted, 0 when a unique key already held it. */
  affectedRows: number;
  /** The new row's id (as text: ids are bigint), when inserted. */
  insertId: string | null;
}

/** An entity's table for hand-written SQL. */
export interface SqlTable {
  /** Qualified with its system's database where that differs, names escaped. */
  readonly path: string;
  /** The escaped column of an entity property; an unknown property throws. */
  column(property: string): string;
  isJson(property: string): boolean;
}

export function sqlTable(manager: EntityManager, entity: new () => object): SqlTable {
  const meta = manager.connection.getMetadata(entity);
  const escape = (name: string): string => manager.connection.driver.escape(name);
  const find = (property: string) => {
    const column = meta.findColumnWithPropertyName(property);
    if (!column) throw new Error(`${meta.tableName} has no property ${property}`);
    return column;
  };
  return {
    path: [meta.database, meta.tableName].filter((p): p is string => Boolean(p)).map(escape).join('.'),
    column: (property) => escape(find(property).databaseName),
    isJson: (property) => find(property).type === 'json',
  };
}

/**
 * Inserts one row given by entity property names unless a unique key already holds it, in one plain
 * statement: the hot paths (a message job writes two such rows per send) skip the query builder's
 * per-call work. JSON columns are serialized; the table is qualified with its system's database where
 * that differs. Not `INSERT IGNORE`, which also turns a value too long or malformed for its column into
 * a warning and writes the row cut or zeroed: here only the duplicate is forgiven, anything else
 * fails the statement. `ON DUPLICATE KEY UPDATE id = id` would not do either: mysql2 connects with
 * CLIENT_FOUND_ROWS, so it reports 1 affected row for a duplicate as for an insert. Inside a
 * transaction InnoDB undoes only the refused statement.
 */
export async function insertIfAbsent<T extends object>(manager: EntityManager, entity: new () => T, values: Partial<T>): Promise<InsertIfAbsentResult> {
  const table = sqlTable(manager, entity);
  const entries = Object.entries(values);
  const columns = entries.map(([property]) => table.column(property));
  const params = entries.map(([property, value]) => sqlValue(table, property, value));
  const sql = `INSERT INTO ${table.path} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
  let result: { affectedRows?: number; insertId?: number | string };
  try {
    result = (await manager.query(sql, params)) as typeof result;
  } catch (err) {
    if (isDuplicateKeyError(err)) return { affectedRows: 0, insertId: null };
    throw err;
  }
  const affectedRows = result.affectedRows ?? 0;
  return { affectedRows, insertId: affectedRows === 1 && result.insertId !== undefined ? String(result.insertId) : null };
}

/**
 * `alias.column = ?` for each entity property of `values`, with the parameters in the same order
 * (JSON columns serialized): the SET of an UPDATE the query builder cannot write, such as one over
 * joined tables, still named by typed properties.
 */
export function setClause(table: SqlTable, alias: string, values: Record<string, unknown>): { sql: string; params: unknown[] } {
  const entries = Object.entries(values);
  return {
    sql: entries.map(([property]) => `${alias}.${table.column(property)} = ?`).join(', '),
    params: entries.map(([property, value]) => sqlValue(table, property, value)),
  };
}

/** A property's value as the driver takes it: JSON columns serialized, everything else as it is. */
function sqlValue(table: SqlTable, property: string, value: unknown): unknown {
  return table.isJson(property) && value !== null && value !== undefined ? JSON.stringify(value) : value;
}

/** Rows a raw INSERT, UPDATE or DELETE changed (mysql2's `affectedRows`); 0 when the result carries none. */
export function affectedRows(result: unknown): number {
  return result && typeof result === 'object' && 'affectedRows' in result ? Number((result as { affectedRows: unknown }).affectedRows) || 0 : 0;
}
