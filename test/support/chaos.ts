import { appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * `JOBHUB_CHAOS=short` runs each scenario with outages of seconds (CI); anything else, the lengths
 * the issue of record names (a minute, five minutes).
 */
export const CHAOS_SCALE: 'short' | 'full' = process.env.JOBHUB_CHAOS === 'short' ? 'short' : 'full';

/** The short or the full figure, by the suite's scale. */
export function byScale<T>(short: T, full: T): T {
  return CHAOS_SCALE === 'short' ? short : full;
}

/** Where the scenarios of one run write their figures; chaos-report.ts prints and removes it. */
export const CHAOS_RESULTS_FILE = join(tmpdir(), `jobhub-chaos-${process.env.JOBHUB_TEST_RUN ?? 'run'}.jsonl`);

export interface ChaosFigure {
  scenario: string;
  /** What broke, and for how long. */
  fault: string;
  /** From the service's return (or the fault, where nothing returns) to the hub working again. */
  recoveryMs: number;
  /** The invariants' counts: jobs lost, effects twice, failed for good… */
  detail: string;
}

/** Records a scenario's recovery time for the table printed at the end of the run. */
export function recordRecovery(figure: ChaosFigure): void {
  appendFileSync(CHAOS_RESULTS_FILE, `${JSON.stringify({ ...figure, scale: CHAOS_SCALE })}\n`);
}
