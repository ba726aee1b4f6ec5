import { QueryFailedError } from 'typeorm';
import { z } from 'zod';
import { JOBS, registry } from '../../jobs';
import { InvalidPayloadError, duplicateKeyName, isDuplicateKeyOn } from '../../lib/errors';
import { parsePayload, parsePayloadIgnoringUnknownFields } from '../../lib/validation';
import { prepareJob } from '../../workers/enqueue';
import { prepareOutboxJob } from '../../workers/outbox-rows';

/** The field errors a parse throws, or none. */
const fieldErrors = (parse: () => unknown): readonly string[] => {
  try {
    parse();
    return [];
  } catch (err) {
    if (err instanceof InvalidPayloadError) return err.fieldErrors;
    throw err;
  }
};

describe('payloads: strict when enqueued, tolerant when run', () => {
  const inner = z.strictObject({ b: z.string() });
  const schema = z
    .strictObject({
      a: z.number().int(),
      inner: inner.optional(),
      list: z.array(inner).default([]),
    })
    .refine((p) => p.a > 0, { message: 'must be positive', path: ['a'] });

  it('refuses an unknown field when enqueued, naming it', () => {
    expect(fieldErrors(() => parsePayload(schema, { a: 1, colour: 'red' }))).toEqual(['(payload): Unrecognized key: "colour"']);
  });

  it('when run, removes unknown fields at every depth and lists them, leaving the job data as it came', () => {
    const data = { a: 1, colour: 'red', inner: { b: 'x', size: 2 }, list: [{ b: 'y' }, { b: 'z', shade: 3 }] };
    const copy = structuredClone(data);
    const { payload, ignoredFields } = parsePayloadIgnoringUnknownFields(schema, data);
    expect(payload).toEqual({ a: 1, inner: { b: 'x' }, list: [{ b: 'y' }, { b: 'z' }] });
    expect(ignoredFields.sort()).toEqual(['colour', 'inner.size', 'list.1.shade']);
    expect(data).toEqual(copy);
  });

  it('when run, sees through a default and a pipe, and still applies refinements', () => {
    const wrapped = z
      .strictObject({ n: z.number().default(1) })
      .default({ n: 1 })
      .pipe(z.strictObject({ n: z.number().max(5) }));
    expect(parsePayloadIgnoringUnknownFields(wrapped, { n: 2, extra: true })).toEqual({ payload: { n: 2 }, ignoredFields: ['extra'] });
    expect(parsePayloadIgnoringUnknownFields(wrapped, undefined)).toEqual({ payload: { n: 1 }, ignoredFields: [] });
    expect(fieldErrors(() => parsePayloadIgnoringUnknownFields(schema, { a: -1, extra: true }))).toEqual(['a: must be positive']);
  });

  it('when run, fails an invalid known field naming it, and only it', () => {
    const errors = fieldErrors(() => parsePayloadIgnoringUnknownFields(schema, { a: 'one', colour: 'red', inner: { b: 2 } }));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^a: .*expected number/);
    expect(errors[1]).toMatch(/^inner\.b: .*expected string/);
  });

  it('every job of the catalogue refuses an unknown field when enqueued, by any producer', () => {
    for (const def of JOBS) {
      const errors = fieldErrors(() => prepareJob(def, { unknownProbe: 1 }));
      expect({ job: def.name, refused: errors.includes('(payload): Unrecognized key: "unknownProbe"') }).toEqual({ job: def.name, refused: true });
    }
  });

  it('the outbox relay fails a row with an unknown field, naming it', () => {
    const row = { id: '7', jobName: 'coupon-expire', payload: JSON.stringify({ batchSize: 10, colour: 'red' }) };
    expect(prepareOutboxJob(registry, row)).toBe('invalid payload for coupon-expire: (payload): Unrecognized key: "colour"');
  });
});

describe('duplicate keys: which key', () => {
  /** mysql2's error as TypeORM wraps it; MySQL 8 names the key with its table, MariaDB without. */
  const duplicate = (key: string): QueryFailedError => {
    const driver = Object.assign(new Error(`Duplicate entry 'k-1' for key '${key}'`), { errno: 1062, code: 'ER_DUP_ENTRY', sqlMessage: `Duplicate entry 'k-1' for key '${key}'` });
    return new QueryFailedError('INSERT INTO t VALUES (?)', ['k-1'], driver);
  };

  it('reads the key name as MariaDB and MySQL 8 give it', () => {
    expect(duplicateKeyName(duplicate('uk_refund_order_out_refund_no'))).toBe('uk_refund_order_out_refund_no');
    expect(duplicateKeyName(duplicate('refund_order.uk_refund_order_out_refund_no'))).toBe('uk_refund_order_out_refund_no');
    expect(isDuplicateKeyOn(duplicate('hub_canary.PRIMARY'), 'PRIMARY')).toBe(true);
    expect(isDuplicateKeyOn(duplicate('PRIMARY'), 'primary')).toBe(true);
  });

  it('is false for another key and for other errors', () => {
    expect(isDuplicateKeyOn(duplicate('uk_other'), 'PRIMARY')).toBe(false);
    expect(isDuplicateKeyOn(new Error("Duplicate entry 'x' for key 'PRIMARY'"), 'PRIMARY')).toBe(false);
    expect(duplicateKeyName(undefined)).toBeUndefined();
  });
});
