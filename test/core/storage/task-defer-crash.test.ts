/**
 * A device crashes at each durable write while it defers a task whose files cannot be read, and
 * at each one of the later apply once they read again (core/storage/task-defer.ts); after a
 * restart everything converges: the pulled metadata, truncate and tombstone stay applied, no
 * conflict copy appears, nothing is left waiting (written by a review).
 */
import assert from 'node:assert/strict';
import { api, conflictCopies, content, ui, syncedPair } from '../../support/sim/sim-tasks';

async function scenario(crashAt: number, phase: 'defer' | 'apply', kind: 'meta' | 'delete'): Promise<boolean> {
  const { world, a, b, t1, t2 } = await syncedPair();
  world.tick();
  if (kind === 'meta') {
    const t = (await a.store.readTask(t1))!;
    await a.write({ ...t, ui: [...t.ui, ui(5000, 'new')], api: t.api.slice(0, 2), historyItem: { ...t.historyItem!, task: 'renamed', tokensIn: 99 } });
  } else {
    await world.run(a.storage!.deleteTask('roo-code', t1));
  }
  const t = (await a.store.readTask(t2))!;
  await a.write({ ...t, ui: [...t.ui, ui(5001, 't2 new')] });
  await world.run(a.storage!.syncToCloud());
  b.store.damage(t1);
  if (phase === 'apply') {
    await world.run(b.storage!.syncFromCloud());
    b.store.repair(t1);
  }
  b.armCrash(crashAt);
  const step: Promise<unknown> = phase === 'defer' ? b.storage!.syncFromCloud() : b.storage!.syncToCloud({ tasks: [{ source: 'roo-code', taskId: t1 }], files: false });
  await world.run(step).catch(() => undefined);
  const crashed = b.crashedMidStep;
  if (crashed) { b.kill(); await b.start(); } else b.disarmCrash();
  if (phase === 'defer') b.store.repair(t1);
  await world.syncAll();
  await world.syncAll();
  assert.deepEqual(content(await b.store.readTask(t1)), content(await a.store.readTask(t1)), `crashAt ${crashAt} ${phase} ${kind}: t1 differs`);
  assert.deepEqual(content(await b.store.readTask(t2)), content(await a.store.readTask(t2)), `crashAt ${crashAt} ${phase} ${kind}: t2 differs`);
  if (kind === 'meta') assert.equal((await a.store.readTask(t1))!.historyItem?.task, 'renamed');
  else assert.equal(await a.store.readTask(t1), null);
  assert.equal((await conflictCopies(a)).length + (await conflictCopies(b)).length, 0, `crashAt ${crashAt}: copies`);
  assert.equal(b.storage!.waitingTasks.length, 0);
  return crashed;
}

describe('HybridStorage: a crash at every durable write of a deferral and of the later apply', () => {
  for (const phase of ['defer', 'apply'] as const) for (const kind of ['meta', 'delete'] as const) {
    it(`${phase} / ${kind}`, async () => {
      let n = 0;
      for (; n < 40; n++) if (!(await scenario(n, phase, kind))) break;
      assert.ok(n >= 3, `the step crashed at ${n} points only`);
    });
  }
});
