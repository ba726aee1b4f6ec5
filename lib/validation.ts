import type { z } from 'zod';

/** zod issues as `field.path: message` lines, the form every 400 and failed job uses. */
export function describeIssues(error: z.ZodError, root = '(payload)'): string[] {
  return error.issues.map((issue) => `${issue.path.map(String).join('.') || root}: ${issue.message}`);
}
