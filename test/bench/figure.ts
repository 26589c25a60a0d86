/** One measured figure, printed last by `npm run bench` as one JSON line. */
export interface Figure {
  /** As the issue names it, e.g. `merge.text3way.5000lines.median_ms`. */
  name: string;
  value: number;
  unit: string;
  /** The comparison measured in the same run, or null when there is none. */
  baseline: number | null;
  /** The goal in words, e.g. `<= 10`; `none` (spelled so everywhere) when the figure has none. */
  target: string;
}

/** A benchmark file under test/bench exports one of these as `benchmark`. */
export interface Benchmark {
  /** Selects it on the command line: `npm run bench -- <name>`. */
  name: string;
  /** Prints figures for people as it goes; returns the figures. */
  run(args: string[]): Promise<Figure[]>;
}

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The p-th percentile (0-100) by nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
