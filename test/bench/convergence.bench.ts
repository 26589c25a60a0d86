/**
 * `npm run bench -- convergence [--seeds=N] [--steps=MIN-MAX]`: runs the seeded convergence
 * simulation for N seeds (default 10,000) with MIN-MAX chaos steps per seed (default: the
 * workload of npm test), prints progress and every failing seed (replay one with
 * CONVERGENCE_SEED=<n> [CONVERGENCE_STEPS=MIN-MAX] npx mocha -r tsx test/core/storage/convergence.test.ts),
 * and reports how many passed. Write the values with `=`: the bench runner takes any argument not
 * starting with `-` for a benchmark name. Baseline: the seeds attempted in the same run.
 */
import type { Benchmark, Figure } from './figure';
import { runConvergence } from '../support/sim/convergence';

/** The value of `--name V` or `--name=V`. */
function option(args: readonly string[], name: string): string | undefined {
  const inline = args.find((a) => a.startsWith(`${name}=`));
  if (inline) return inline.slice(name.length + 1);
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
}

function seedsArg(args: readonly string[]): number {
  const raw = option(args, '--seeds');
  const n = raw === undefined ? 10_000 : Number(raw);
  return Number.isInteger(n) && n > 0 ? n : 10_000;
}

/** `--steps MIN-MAX`: chaos steps per seed (default: the same workload as npm test). */
function stepsArg(args: readonly string[]): [number, number] | undefined {
  const match = /^(\d+)-(\d+)$/.exec(option(args, '--steps') ?? '');
  return match ? [Number(match[1]), Math.max(Number(match[1]), Number(match[2]))] : undefined;
}

export const benchmark: Benchmark = {
  name: 'convergence',
  async run(args: string[]): Promise<Figure[]> {
    const total = seedsArg(args);
    const steps = stepsArg(args);
    const started = Date.now();
    let passed = 0;
    let changes = 0;
    let crashes = 0;
    let copies = 0;
    let displaced = 0;
    let taskCopies = 0;
    let cacheLosses = 0;
    let relayFetches = 0;
    let unrestorable = 0;
    let joins = 0;
    let damages = 0;
    const failed: number[] = [];
    for (let seed = 1; seed <= total; seed++) {
      try {
        const result = await runConvergence(seed, steps ? { steps } : {});
        passed++;
        changes += result.changes;
        crashes += result.crashes;
        copies += result.conflictCopies;
        displaced += result.displacedEntries;
        taskCopies += result.taskCopies;
        cacheLosses += result.entryCacheLosses;
        relayFetches += result.relayEntryFetches;
        unrestorable += result.unrestorableReports;
        joins += result.joins;
        damages += result.damages;
      } catch (err) {
        failed.push(seed);
        console.log(`  FAILED ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      }
      if (seed % 500 === 0 || seed === total) {
        const seconds = (Date.now() - started) / 1000;
        console.log(`  ${seed}/${total} seeds, ${passed} passed, ${failed.length} failed (${seconds.toFixed(1)} s)`);
      }
    }
    console.log(`  ${passed} of ${total} seeds converged; ${changes} changes, ${crashes} crashes, ${copies} file conflict copies, ${displaced} entries displaced by concurrent writes (kept in ${taskCopies} task conflict copies)`);
    console.log(`  ${cacheLosses} restarts lost the durable entry cache; devices asked the relay for entries ${relayFetches} times; ${unrestorable} entries reported unrestorable (none the relay held)`);
    console.log(`  ${joins} new devices joined with a copy of another device's store (a backfill), each sending back nothing the log held then and taking every edit made on its copy as its own`);
    console.log(`  ${damages} times a task's files became unreadable on one device (the engine left them alone and kept syncing the other tasks; restored or rewritten later)`);
    if (failed.length) console.log(`  failing seeds: ${failed.slice(0, 50).join(', ')}${failed.length > 50 ? ', ...' : ''}`);
    return [{ name: 'convergence.seeds', value: passed, unit: 'seeds', baseline: total, target: '>= 10000' }];
  },
};
