import { readFileSync } from 'node:fs';
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

/** A PEM file (a CA bundle, a certificate, a key) named by its path, read when the configuration loads: a process that cannot read it stops at start. */
export const optionalPemFile = optionalText.transform((path, ctx) => {
  if (path === undefined) return undefined;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})` });
    return z.NEVER;
  }
  if (!pem.includes('-----BEGIN ')) {
    ctx.addIssue({ code: 'custom', message: `${path} is not a PEM file` });
    return z.NEVER;
  }
  return pem;
});
