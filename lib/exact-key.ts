/**
 * A WHERE fragment (TypeORM named parameter) that matches a business key exactly. The seeds' tables
 * compare text with `utf8mb4_unicode_ci`, which ignores case and trailing spaces (so does
 * `utf8mb4_bin`: both are PAD SPACE), so `demo…a ` would find `DEMO…A`. The collation's `=` keeps
 * the key's index in use; the byte comparison beside it drops the near misses. `CAST … AS BINARY`
 * reads the same on MariaDB and MySQL 8 (the `BINARY x` operator is deprecated in MySQL 8).
 * `column` is code, never input.
 */
export function exactKey(column: string, param: string): string {
  return `(${column} = :${param} AND CAST(${column} AS BINARY) = CAST(:${param} AS BINARY))`;
}
