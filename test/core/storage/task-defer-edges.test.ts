/**
 * Edges of core/storage/task-defer.ts (written by a review): a waiting task whose folder is
 * removed, a refused metadata edit against a tombstone, live changes repeating a waiting seq.
 */
import assert from 'node:assert/strict';
import { api, content, editOn, syncedPair, ui } from '../../support/sim/sim-tasks';


/**
 * B's t1 waits (its files broken); A changes t2; B pulls it, crashing after `crashAt` durable
 * writes (null: no crash); B's waiting log is lost while it is down (a state restored without
 * it), t1 is repaired and B starts again. Returns whether the header then held a journal.
 */
async function waitingLogLost(crashAt: number | null): Promise<boolean | null> {
  const { world, a, b, t1, t2 } = await syncedPair();
  await editOn(world, a, t1, (t) => ({ ...t, ui: [...t.ui, ui(5000, 't1 new')] }));
  b.store.damage(t1);
  await world.run(b.storage!.syncFromCloud());
  assert.equal(b.storage!.waitingTasks.length, 1);
  await editOn(world, a, t2, (t) => ({ ...t, ui: [...t.ui, ui(5001, 't2 new')] }));
  if (crashAt !== null) {
    b.armCrash(crashAt);
    await world.run(b.storage!.syncFromCloud()).catch(() => undefined);
    if (!b.crashedMidStep) {
      b.disarmCrash();
      return null;
    }
  }
  b.kill();
  const journal = (await b.stateStore.load())?.journal != null;
  await b.stateStore.replaceWaiting([]);
  b.store.repair(t1);
  await b.start();
  await world.syncAll();
  await world.syncAll();
  assert.deepEqual(content(await b.store.readTask(t1)), content(await a.store.readTask(t1)), `crash at ${crashAt}: t1 got what waited`);
  assert.deepEqual(content(await b.store.readTask(t2)), content(await a.store.readTask(t2)));
  return journal;
}

describe('HybridStorage: edges of a task that cannot be read', () => {
  it('a deferred task whose folder is removed locally comes back with what was pulled meanwhile', async () => {
    const { world, a, b, t1 } = await syncedPair();
    world.tick();
    const t = (await a.store.readTask(t1))!;
    await a.write({ ...t, ui: [...t.ui, ui(5000, 'new')], api: t.api.slice(0, 2), historyItem: { ...t.historyItem!, task: 'renamed' } });
    await world.run(a.storage!.syncToCloud());
    b.store.damage(t1);
    await world.run(b.storage!.syncFromCloud());
    await b.store.deleteTask(t1); // the folder goes (not a tombstone)
    await world.syncAll();
    await world.syncAll();
    assert.deepEqual(content(await b.store.readTask(t1)), content(await a.store.readTask(t1)));
    assert.equal(b.storage!.waitingTasks.length, 0);
  });

  it('a refused meta edit of an unreadable task whose current version is a tombstone: the delete stands', async () => {
    const { world, a, b, t1 } = await syncedPair();
    world.tick();
    const t1b = (await b.store.readTask(t1))!;
    await b.write({ ...t1b, historyItem: { ...t1b.historyItem!, task: 'renamed on b' } });
    b.transport!.disconnect();
    await world.run(b.storage!.syncToCloud({ tasks: [{ source: 'roo-code', taskId: t1 }], files: false })).catch(() => undefined);
    await world.run(a.storage!.deleteTask('roo-code', t1));
    await world.run(a.storage!.syncToCloud());
    b.store.damage(t1);
    b.transport!.connect();
    await world.run(b.storage!.syncToCloud({ tasks: [], files: false }));
    assert.ok(b.store.peek(t1), 'untouched while unreadable');
    b.store.repair(t1);
    await world.syncAll();
    await world.syncAll();
    assert.equal(await b.store.readTask(t1), null);
    assert.equal(await a.store.readTask(t1), null);
  });

  it('live changes repeating a deferred seq add nothing twice', async () => {
    const { world, a, b, t1 } = await syncedPair();
    world.tick();
    const t = (await a.store.readTask(t1))!;
    await a.write({ ...t, ui: [...t.ui, ui(5000, 'new')] });
    await world.run(a.storage!.syncToCloud());
    b.store.damage(t1);
    await world.run(b.storage!.syncFromCloud());
    await world.run(b.storage!.resync());
    await world.run(b.storage!.syncFromCloud());
    assert.equal(b.storage!.waitingTasks.length, 1); // (a resync from 0 re-defers all t1's changes: idempotent)
    b.store.repair(t1);
    await world.syncAll();
    assert.deepEqual(content(await b.store.readTask(t1)), content(await a.store.readTask(t1)));
  });
  it('costs an idle pull no state save while a task stays unreadable, and drops what waits for a store no longer synced (found by a review)', async () => {
    const { world, a, b, t1 } = await syncedPair();
    await editOn(world, a, t1, (t) => ({ ...t, ui: [...t.ui, ui(5000, 'new')] }));
    b.store.damage(t1);
    await world.run(b.storage!.syncFromCloud());
    let before = b.stateStore.saves;
    for (let i = 0; i < 5; i++) await world.run(b.storage!.syncFromCloud());
    assert.equal(b.stateStore.saves - before, 0, 'idle pulls with a task still unreadable');
    assert.equal(b.storage!.waitingTasks.length, 1);
    // The store is no longer synced on B: its changes are skipped, as any change of such a store.
    (b.storage as unknown as { deps: { storeFor: () => undefined } }).deps.storeFor = () => undefined;
    await world.run(b.storage!.syncFromCloud());
    assert.equal(b.storage!.waitingTasks.length, 0);
    before = b.stateStore.saves;
    for (let i = 0; i < 5; i++) await world.run(b.storage!.syncFromCloud());
    assert.equal(b.stateStore.saves - before, 0, 'idle pulls once nothing waits');
  });
  it('saves a long wait once: each waiting change goes to the waiting log once, however many saves (found by a review)', async () => {
    const { world, a, b, t1 } = await syncedPair();
    b.store.damage(t1);
    const before = b.stateStore.waitingRecords;
    for (let i = 0; i < 60; i++) {
      await editOn(world, a, t1, (t) => ({ ...t, ui: [...t.ui, ui(5000 + i, `m${i}`)], api: [...t.api, api('assistant', `a${i}`)] }));
      await world.run(b.storage!.syncFromCloud());
    }
    const waiting = b.storage!.waitingTasks[0]!.changes;
    assert.ok(waiting >= 120, `${waiting} changes wait`);
    assert.equal(b.stateStore.waitingRecords - before, waiting + 1, 'a reset, then each change once');
    b.store.repair(t1);
    await world.syncAll();
    assert.deepEqual(content(await b.store.readTask(t1)), content(await a.store.readTask(t1)));
  });
  it('pulls everything again when its waiting log was lost, also when a crash left a journal to replay (found by a review)', async () => {
    await waitingLogLost(null);
    let journals = 0;
    for (let steps = 0; steps < 20; steps++) {
      const journal = await waitingLogLost(steps);
      if (journal === null) break;
      if (journal) journals++;
    }
    assert.ok(journals > 0, 'a crash left a journal');
  });
});
