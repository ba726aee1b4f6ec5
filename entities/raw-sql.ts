import type { EntityManager } from 'typeorm';

export interface InsertIgnoreResult {
  /** 1 when the row was inserted, 0 when a unique key already held it. */
  affectedRows: number;
  /** The new row's id (as text: ids are bigint), when inserted. */
  insertId: string | null;
}

/** An entity's table for hand-written SQL: qualified with its system's database where that differs, names escaped. */
export function sqlTable(manager: EntityManager, entity: new () => object): { path: string; column(property: string): string; isJson(property: string): boolean } {
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
 * `INSERT IGNORE` of one row given by entity property names, in one plain statement: the hot
 * paths (a message job writes two such rows per send) skip the query builder's per-call work. JSON
 * columns are serialized; the table is qualified with its system's database where that differs.
 */
export async function insertIgnore<T extends object>(manager: EntityManager, entity: new () => T, values: Partial<T>): Promise<InsertIgnoreResult> {
  const table = sqlTable(manager, entity);
  const columns: string[] = [];
  const params: unknown[] = [];
  for (const [property, value] of Object.entries(values)) {
    columns.push(table.column(property));
    params.push(table.isJson(property) && value !== null && value !== undefined ? JSON.stringify(value) : value);
  }
  const sql = `INSERT IGNORE INTO ${table.path} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
  const result = (await manager.query(sql, params)) as { affectedRows?: number; insertId?: number | string };
  const affectedRows = result.affectedRows ?? 0;
  return { affectedRows, insertId: affectedRows === 1 && result.insertId !== undefined ? String(result.insertId) : null };
}

/** Rows a raw INSERT, UPDATE or DELETE changed (mysql2's `affectedRows`); 0 when the result carries none. */
export function affectedRows(result: unknown): number {
  return result && typeof result === 'object' && 'affectedRows' in result ? Number((result as { affectedRows: unknown }).affectedRows) || 0 : 0;
}
