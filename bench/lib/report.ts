// Benchmarks print one JSON line per figure, with the baseline measured in the same run.
export const small = process.env.BENCH_SIZE === 'small';

export function report(bench: string, metric: string, value: number, unit: string, baseline?: number) {
  const line: Record<string, unknown> = { bench, metric, value: round(value), unit };
  if (baseline !== undefined) {
    line.baseline = round(baseline);
    line.ratio = baseline === 0 ? null : round(value / baseline, 3);
  }
  console.log(JSON.stringify(line));
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
