/** A benchmark row: our figure against a baseline measured in the same run. */
export interface BenchRow {
  scenario: string;
  unit: string;
  baseline: { label: string; value: number };
  ours: { label: string; value: number };
  /** ours / baseline: the median of per-run ratios when runs are paired, else of the medians. */
  ratio?: number;
  /** The ratio must reach this; a row without one reports a figure the targets do not cover. */
  targetRatio?: number;
  notes?: string;
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** One paired run: both sides back to back, their order alternating with `run` (this machine's speed drifts between runs). */
export async function pairedRun(run: number, baseline: () => Promise<void>, ours: () => Promise<void>): Promise<void> {
  if (run % 2 === 0) {
    await baseline();
    await ours();
  } else {
    await ours();
    await baseline();
  }
}

export function formatTable(rows: readonly BenchRow[]): string {
  const header = ['scenario', 'baseline', 'jobhub', 'ratio', 'target', 'result'];
  const body = rows.map((r) => {
    const ratio = r.ratio ?? r.ours.value / r.baseline.value;
    return [
      r.scenario,
      `${r.baseline.label}: ${Math.round(r.baseline.value).toLocaleString('en-US')} ${r.unit}`,
      `${r.ours.label}: ${Math.round(r.ours.value).toLocaleString('en-US')} ${r.unit}`,
      ratio.toFixed(3),
      r.targetRatio === undefined ? '—' : `≥ ${r.targetRatio}`,
      r.targetRatio === undefined ? 'figure' : ratio >= r.targetRatio ? 'met' : 'MISSED',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}
