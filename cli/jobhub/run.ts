import type { Command } from 'commander';
import { parseBeijing } from '../../lib/time';
import { CliError, EXIT, usageError } from './exit';
import { createOutput, type Output } from './output';

/**
 * Runs one command's body: its answer on stdout, and on failure one `jobhub: …` line on stderr and
 * the exit code the error carries (1 for anything unexpected).
 */
export async function run(command: Command, body: (out: Output) => Promise<void>): Promise<void> {
  const { json } = command.optsWithGlobals<{ json?: boolean }>();
  try {
    await body(createOutput(json === true));
  } catch (err) {
    const code = err instanceof CliError ? err.exitCode : EXIT.failed;
    process.stderr.write(`jobhub: ${(err as Error).message}\n`);
    process.exitCode = code;
  }
}

const BEIJING_TEXT = /^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?$/;
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$/i;

/** `--since`: an ISO time with its zone (`…Z`, `…+08:00`), or `YYYY-MM-DD[ HH:mm[:ss]]` read as Beijing time. */
export function parseSince(text: string): Date {
  const trimmed = text.trim();
  try {
    if (BEIJING_TEXT.test(trimmed)) return parseBeijing(trimmed);
  } catch {
    // an impossible date: reported below
  }
  const at = ISO_WITH_ZONE.test(trimmed) ? new Date(trimmed) : null;
  if (!at || Number.isNaN(at.getTime())) {
    throw usageError(`--since ${JSON.stringify(text)}: expected an ISO time with a zone (2026-12-01T08:00:00Z) or a Beijing time (2026-12-01 16:00)`);
  }
  return at;
}

/** A whole number option within bounds, or a usage error naming it. */
export function parseIntOption(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) throw usageError(`${name} ${JSON.stringify(text)}: expected a whole number from ${min} to ${max}`);
  return value;
}
