import { z } from 'zod';

/** Field types the environment schemas share (lib/config.ts and its parts). */

export const optionalText = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

export const booleanFlag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes')
  .optional();

export const port = z.coerce.number().int().min(0).max(65_535);

export const integrationMode = z.enum(['live', 'emulator']).optional();

/** An origin (`https://host[:port]`), trailing slash allowed. */
export const optionalOrigin = (example: string): typeof optionalText =>
  optionalText.refine((v) => v === undefined || /^https?:\/\/[^/]+\/?$/.test(v), { message: `expected an origin such as ${example}` });

/** Per-request timeout of an outside call. */
export const timeoutMs = (fallback: number): z.ZodDefault<z.ZodCoercedNumber> => z.coerce.number().int().min(100).max(120_000).default(fallback);
