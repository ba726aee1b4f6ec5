import { existsSync, readFileSync, rmSync } from 'node:fs';
import { CHAOS_RESULTS_FILE, type ChaosFigure } from './chaos';

/** Jest's globalTeardown for the chaos suite: one line per scenario, its fault and recovery time. */
export default function chaosReport(): void {
  if (!existsSync(CHAOS_RESULTS_FILE)) return;
  const figures = readFileSync(CHAOS_RESULTS_FILE, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ChaosFigure & { scale: string });
  rmSync(CHAOS_RESULTS_FILE, { force: true });
  const rows = figures.map((f) => `| ${f.scenario} | ${f.fault} | ${(f.recoveryMs / 1000).toFixed(1)} s | ${f.detail} |`);
  process.stdout.write(['', `chaos (${figures[0]?.scale ?? ''})`, '| scenario | fault | recovery | invariants |', '| --- | --- | --- | --- |', ...rows, ''].join('\n'));
}
