/**
 * `merge`: three-way text merge speed (ConflictResolver's diff3 path) on a 5,000-line file with
 * 50 non-overlapping edits per side, against a plain two-way line diff of the same file.
 */
import Onp from 'diff3/onp';
import { mergeText, splitLines } from '../../core/merge/text-merge';
import { createRng } from '../support/rng';
import { median, type Benchmark, type Figure } from './figure';

const LINES = 5000;
const EDITS = 50;
const RUNS = 41;

function makeFile(): { base: string; local: string; remote: string } {
  const rng = createRng(5000);
  const base = Array.from({ length: LINES }, (_, i) =>
    i % 25 === 0 ? `export function handler${i}(input: Request): Response {\n` : `  const value${i} = transform(input.field${rng.int(0, 99)}, ${rng.int(0, 9999)});\n`,
  );
  const local = [...base];
  const remote = [...base];
  const stride = LINES / EDITS;
  // Each side edits its own stretch of every block of 100 lines: never the same or adjacent
  // lines. Backwards, so a splice does not move the places still to edit.
  for (let e = EDITS - 1; e >= 0; e--) {
    local[e * stride + rng.int(5, 30)] = `  const edited${e} = local(${rng.int(0, 999)});\n`;
    remote.splice(e * stride + rng.int(55, 90), 1, `  const added${e} = remote();\n`, `  log('remote ${e}');\n`);
  }
  return { base: base.join(''), local: local.join(''), remote: remote.join('') };
}

/** A plain two-way line diff (the same line splitting and interning, one diff instead of two plus the merge). */
function twoWayDiff(a: string, b: string): number {
  const ids = new Map<string, number>();
  const intern = (text: string) =>
    splitLines(text).map((line) => {
      let id = ids.get(line);
      if (id === undefined) ids.set(line, (id = ids.size));
      return id;
    });
  return new Onp(intern(a), intern(b)).compose().length;
}

function time(fn: () => unknown): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

export const benchmark: Benchmark = {
  name: 'merge',
  async run(): Promise<Figure[]> {
    const { base, local, remote } = makeFile();
    const check = mergeText(base, local, remote);
    if (check.kind !== 'clean') throw new Error('benchmark input must merge cleanly');
    for (let i = 0; i < 5; i++) {
      mergeText(base, local, remote);
      twoWayDiff(base, local);
    }
    const merge: number[] = [];
    const diff: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      merge.push(time(() => mergeText(base, local, remote)));
      diff.push(time(() => twoWayDiff(base, local)));
    }
    const value = median(merge);
    const baseline = median(diff);
    console.log(`three-way merge, ${LINES} lines, ${EDITS} edits per side: median ${value.toFixed(2)} ms (min ${Math.min(...merge).toFixed(2)})`);
    console.log(`baseline two-way line diff of the same file: median ${baseline.toFixed(2)} ms (min ${Math.min(...diff).toFixed(2)})`);
    return [{ name: 'merge.text3way.5000lines.median_ms', value: round(value), unit: 'ms', baseline: round(baseline), target: '<= 10' }];
  },
};

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
