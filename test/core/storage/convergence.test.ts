/**
 * The seeded convergence simulation (test/support/sim/convergence.ts) over many seeds.
 * CONVERGENCE_SEED=<n> replays one seed; CONVERGENCE_SEEDS=<n> changes how many run (default 200);
 * CONVERGENCE_STEPS=<min>-<max> runs them with that many chaos steps (a long-run seed of the bench).
 */
import assert from 'node:assert/strict';
import { runConvergence } from '../../support/sim/convergence';

const replay = process.env.CONVERGENCE_SEED;
const count = Number(process.env.CONVERGENCE_SEEDS ?? 200);

const stepsMatch = /^(\d+)-(\d+)$/.exec(process.env.CONVERGENCE_STEPS ?? '');
const steps: [number, number] | undefined = stepsMatch ? [Number(stepsMatch[1]), Math.max(Number(stepsMatch[1]), Number(stepsMatch[2]))] : undefined;

/**
 * Long-run seeds that once failed, with their chaos steps (`npm run bench -- convergence
 * --steps=MIN-MAX`; regressions in long-run-regressions.test.ts): 202 and 445 (stale rewrite from
 * before several remote edits), 486 (a crash between queueing and saving the state), 504 (stale
 * memory undoing a remote "delete from here"), 631 (a skipped remote file lost with a journal),
 * 1851 and 4363 (a larger own counter hidden under a remote clock, then lost with a journal),
 * 6237 (a queued truncate taken as acknowledged by an earlier one with its key), 1172 and 2397
 * (stale memory bringing back an older version, or another occurrence of its ts, of a message a
 * remote truncate removed).
 */
const LONG_RUNS: Array<{ seeds: number[]; steps: [number, number] }> = [
  { seeds: [202, 445, 486, 504, 631, 1851, 4363, 6237], steps: [150, 300] },
  { seeds: [1172, 2397], steps: [300, 600] },
];

describe('HybridStorage convergence (seeded simulation)', () => {
  it(replay ? `converges for seed ${replay}` : `converges for ${count} seeds with every acknowledged entry kept (in its task or a conflict copy)`, async function () {
    this.timeout(600_000);
    const seeds = replay ? [Number(replay)] : Array.from({ length: count }, (_, i) => i + 1);
    const failures: string[] = [];
    let changes = 0;
    let displaced = 0;
    for (const seed of seeds) {
      try {
        const result = await runConvergence(seed, steps ? { steps } : {});
        changes += result.changes;
        displaced += result.displacedEntries;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        failures.push(message.split('\n')[0]!.slice(0, 400));
        console.error(`convergence seed ${seed} FAILED (replay: CONVERGENCE_SEED=${seed}${steps ? ` CONVERGENCE_STEPS=${steps.join('-')}` : ''} npx mocha -r tsx test/core/storage/convergence.test.ts)\n${message}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(changes > seeds.length, 'the simulation produced changes');
    // Concurrent writes to one entry happen (and each displaced version was found in a copy).
    if (!replay) assert.ok(displaced > 0, 'the simulation produced concurrent writes to one entry');
  });

  for (const { seeds: longSeeds, steps: longSteps } of LONG_RUNS) {
    it(`converges for the long-run seeds that once failed (${longSeeds.join(', ')}; ${longSteps.join('-')} steps)`, async function () {
      this.timeout(120_000);
      const failures: string[] = [];
      for (const seed of longSeeds) {
        try {
          await runConvergence(seed, { steps: longSteps });
        } catch (err) {
          failures.push((err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 400));
        }
      }
      assert.deepEqual(failures, []);
    });
  }

  it('runs the same simulation for the same seed', async () => {
    const first = await runConvergence(4242);
    const second = await runConvergence(4242);
    assert.deepEqual(second, first);
    assert.ok(first.changes > 0);
  });
});
