import { getMetadataArgsStorage } from 'typeorm';

/**
 * What a text column holds, read from its entity's `@Column` so the bound lives in one place (the
 * entity, which `schema:check` keeps equal to the live table). CHAR and VARCHAR count characters
 * (code points under utf8mb4); the TEXT family counts bytes of UTF-8.
 */
export interface ColumnCapacity {
  unit: 'chars' | 'bytes';
  max: number;
}

type EntityClass = new () => object;

const TEXT_BYTES: Readonly<Record<string, number>> = { tinytext: 255, text: 65_535, mediumtext: 16_777_215, longtext: 4_294_967_295 };
const CUT_MARK = '…';
const CUT_MARK_BYTES = Buffer.byteLength(CUT_MARK, 'utf8');

const capacities = new WeakMap<EntityClass, Map<string, ColumnCapacity>>();

export function columnCapacity(entity: EntityClass, property: string): ColumnCapacity {
  let byProperty = capacities.get(entity);
  const cached = byProperty?.get(property);
  if (cached) return cached;
  const column = getMetadataArgsStorage().filterColumns(entity).find((c) => c.propertyName === property);
  if (!column) throw new Error(`${entity.name} has no column ${property}`);
  const type = typeof column.options.type === 'string' ? column.options.type : '';
  const textBytes = TEXT_BYTES[type];
  const capacity: ColumnCapacity | undefined =
    textBytes !== undefined ? { unit: 'bytes', max: textBytes }
    : (type === 'varchar' || type === 'char') && column.options.length !== undefined ? { unit: 'chars', max: Number(column.options.length) }
    : undefined;
  if (!capacity) throw new Error(`${entity.name}.${property} is not a sized text column (${type || 'no type'})`);
  if (!byProperty) capacities.set(entity, (byProperty = new Map()));
  byProperty.set(property, capacity);
  return capacity;
}

export function fitsColumn(entity: EntityClass, property: string, text: string): boolean {
  const { unit, max } = columnCapacity(entity, property);
  // Cheap answers first: UTF-16 units never undercount code points, and no code point takes over 4 bytes.
  if (unit === 'chars') return text.length <= max || Array.from(text).length <= max;
  return text.length * 3 <= max || Buffer.byteLength(text, 'utf8') <= max;
}

/**
 * Free text (an error message, a description) cut to what its column holds, ending in `…` when cut,
 * never inside a character. Identifiers are never cut: a cut id names another row; check them with
 * `fitsColumn` and refuse what does not fit.
 */
export function cutToColumn(entity: EntityClass, property: string, text: string): string {
  if (fitsColumn(entity, property, text)) return text;
  const { unit, max } = columnCapacity(entity, property);
  if (unit === 'chars') return `${Array.from(text).slice(0, max - 1).join('')}${CUT_MARK}`;
  const bytes = Buffer.from(text, 'utf8');
  let end = max - CUT_MARK_BYTES;
  // Back off to the first byte of a character: UTF-8 continuation bytes are 10xxxxxx.
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return `${bytes.subarray(0, end).toString('utf8')}${CUT_MARK}`;
}
