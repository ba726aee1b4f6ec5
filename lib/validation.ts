import { z } from 'zod';
import { InvalidPayloadError } from './errors';
import { parseBeijing } from './time';

/** zod issues as `field.path: message` lines, the form every 400, failed job and config error uses. */
export function describeIssues(error: z.ZodError, root = '(payload)'): string[] {
  return error.issues.map((issue) => `${issue.path.map(String).join('.') || root}: ${issue.message}`);
}

/** A job payload checked against its schema, whether it is being enqueued or run. */
export function parsePayload<S extends z.ZodType>(schema: S, data: unknown): z.output<S> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new InvalidPayloadError(describeIssues(parsed.error));
  return parsed.data;
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
