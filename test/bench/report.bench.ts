/**
 * `npm run bench -- report DIR [--changes N] [--offline-changes N] [--messages N]`: runs the
 * fault suite, the Syncthing comparison and the load run (when present), each leaving its raw
 * data in DIR, then writes DIR/bench-report.md with SVG charts (bench-report.ts). Runs only
 * when named: a plain `npm run bench` does not run everything twice.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { writeBenchReport } from './bench-report';
import type { Benchmark, Figure } from './figure';

export const benchmark: Benchmark = {
  name: 'report',
  async run(args: string[]): Promise<Figure[]> {
    const at = args.indexOf('report');
    if (at < 0) {
      console.log('  skipped: run it by name, npm run bench -- report DIR');
      return [];
    }
    const dir = resolve(args[at + 1] && !args[at + 1]!.startsWith('-') ? args[at + 1]! : 'bench-report');
    await mkdir(dir, { recursive: true });
    const withOut = [...args, '--out', dir];
    const figures: Figure[] = [];
    for (const name of ['faults', 'syncthing', 'load']) {
      let mod: { benchmark?: Benchmark };
      try {
        mod = (await import(`./${name}.bench`)) as { benchmark?: Benchmark };
      } catch {
        continue;
      }
      if (!mod.benchmark) continue;
      console.log(`\n== ${name} (for the report)`);
      try {
        figures.push(...(await mod.benchmark.run(withOut)));
      } catch (err) {
        console.log(`  ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const path = await writeBenchReport(dir, figures, `npm run bench -- ${args.join(' ')}`);
    console.log(`  wrote ${path}`);
    return figures;
  },
};
