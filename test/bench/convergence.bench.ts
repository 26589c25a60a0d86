/**
 * `npm run bench -- convergence [--seeds N]`: runs the seeded convergence simulation for N
 * seeds (default 10,000), prints progress and every failing seed (replay one with
 * CONVERGENCE_SEED=<n> npx mocha test/core/storage/convergence.test.ts), and reports how many
 * passed. Baseline: the number of seeds `npm test` runs.
 */
import type { Benchmark, Figure } from './figure';
import { runConvergence } from '../support/sim/convergence';

const NPM_TEST_SEEDS = 200;

function seedsArg(args: readonly string[]): number {
  const at = args.indexOf('--seeds');
  const inline = args.find((a) => a.startsWith('--seeds='));
  const raw = inline ? inline.slice('--seeds='.length) : at >= 0 ? args[at + 1] : undefined;
  const n = raw === undefined ? 10_000 : Number(raw);
  return Number.isInteger(n) && n > 0 ? n : 10_000;
}

export const benchmark: Benchmark = {
  name: 'convergence',
  async run(args: string[]): Promise<Figure[]> {
    const total = seedsArg(args);
    const started = Date.now();
    let passed = 0;
    let changes = 0;
    let crashes = 0;
    let copies = 0;
    const failed: number[] = [];
    for (let seed = 1; seed <= total; seed++) {
      try {
        const result = await runConvergence(seed);
        passed++;
        changes += result.changes;
        crashes += result.crashes;
        copies += result.conflictCopies;
      } catch (err) {
        failed.push(seed);
        console.log(`  FAILED ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      }
      if (seed % 500 === 0 || seed === total) {
        const seconds = (Date.now() - started) / 1000;
        console.log(`  ${seed}/${total} seeds, ${passed} passed, ${failed.length} failed (${seconds.toFixed(1)} s)`);
      }
    }
    console.log(`  ${passed} of ${total} seeds converged; ${changes} changes, ${crashes} crashes, ${copies} conflict copies`);
    if (failed.length) console.log(`  failing seeds: ${failed.slice(0, 50).join(', ')}${failed.length > 50 ? ', ...' : ''}`);
    return [{ name: 'convergence.seeds', value: passed, unit: 'seeds', baseline: NPM_TEST_SEEDS, target: '>= 10000' }];
  },
};
