/**
 * `npm run bench [-- NAME ...]`: runs every benchmark (files `*.bench.ts` here) or those named,
 * prints their figures for people, and ends with one JSON line per figure.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Benchmark, Figure } from './figure';

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const files = readdirSync(__dirname).filter((f) => f.endsWith('.bench.ts')).sort();
  const benchmarks: Benchmark[] = [];
  for (const file of files) {
    const mod = (await import(join(__dirname, file))) as { benchmark?: Benchmark };
    if (mod.benchmark) benchmarks.push(mod.benchmark);
  }
  const selected = wanted.length ? benchmarks.filter((b) => wanted.includes(b.name)) : benchmarks;
  if (selected.length === 0) {
    console.error(`no benchmark named ${wanted.join(', ')}; known: ${benchmarks.map((b) => b.name).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const figures: Figure[] = [];
  for (const bench of selected) {
    console.log(`\n== ${bench.name}`);
    figures.push(...(await bench.run(process.argv.slice(2))));
  }
  console.log('');
  for (const figure of figures) console.log(JSON.stringify(figure));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
