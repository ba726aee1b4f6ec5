import { z } from 'zod';
import { InvalidPayloadError } from './errors';
import { parseBeijing } from './time';

/** zod issues as `field.path: message` lines, the form every 400, failed job and config error uses. */
export function describeIssues(error: z.ZodError, root = '(payload)'): string[] {
  return error.issues.map((issue) => `${issue.path.map(String).join('.') || root}: ${issue.message}`);
}

/**
 * A job payload checked strictly, as every producer enqueues it: job schemas are strict objects,
 * so an unknown field is refused with the rest (docs/architecture.md, "The job model").
 */
export function parsePayload<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new InvalidPayloadError(describeIssues(parsed.error));
  return parsed.data;
}

/** Rounds of removing unknown fields: one is enough unless a refinement or pipe hides an inner object's. */
const UNKNOWN_FIELD_ROUNDS = 3;

/**
 * A job payload checked as a worker runs it: during a rolling deploy a job may come from a newer
 * producer that added a field, so unknown fields are removed (wherever the strict object sits: inside
 * a refinement, a default, a pipe or another object) and listed as `path.key`, then the payload is
 * parsed again. Any other problem throws `InvalidPayloadError` naming its fields, as `parsePayload` does.
 */
export function parsePayloadIgnoringUnknownFields<S extends z.ZodType>(schema: S, data: unknown): { payload: z.output<S>; ignoredFields: string[] } {
  const ignoredFields: string[] = [];
  let input = data;
  for (let round = 0; ; round++) {
    const parsed = schema.safeParse(input);
    if (parsed.success) return { payload: parsed.data, ignoredFields };
    const unknown = parsed.error.issues.filter((issue) => issue.code === 'unrecognized_keys');
    // Copied once: the caller's object (BullMQ's job.data) stays as it came.
    if (input === data && unknown.length > 0) input = structuredClone(data);
    const removed = round < UNKNOWN_FIELD_ROUNDS ? unknown.flatMap((issue) => removeKeys(input, issue.path, issue.keys)) : [];
    if (removed.length === 0) throw new InvalidPayloadError(describeIssues(parsed.error));
    ignoredFields.push(...removed);
  }
}

/** Deletes `keys` from the object at `path` in `root`; returns the paths of those it deleted. */
function removeKeys(root: unknown, path: readonly PropertyKey[], keys: readonly string[]): string[] {
  let target = root;
  for (const segment of path) {
    if (typeof target !== 'object' || target === null || typeof segment === 'symbol') return [];
    target = (target as Record<string | number, unknown>)[segment];
  }
  if (typeof target !== 'object' || target === null) return [];
  const object = target as Record<string, unknown>;
  const removed: string[] = [];
  for (const key of keys) {
    if (!Object.hasOwn(object, key)) continue;
    Reflect.deleteProperty(object, key);
    removed.push([...path.map(String), key].join('.'));
  }
  return removed;
}

/** A Beijing calendar date, `YYYY-MM-DD`, that exists (bill dates, report filters). */
export const beijingDateSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD')
  .refine((d) => {
    try {
      parseBeijing(d);
      return true;
    } catch {
      return false;
    }
  }, 'no such date');

/** An Idempotency-Key, wherever a producer names its request (the API's header, the CLI's option). */
export const idempotencyKeySchema = z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, 'expected printable ASCII without spaces');
