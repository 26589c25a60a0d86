/**
 * A page whose apply a crash cut short is applied again when the device starts
 * (pull-cycle's replayJournal). What the disk holds by then may be the page's own writes, which
 * must not be sent back, or edits made on this machine after the crash, which must not be
 * overwritten (core/storage/task-replay.ts).
 */
import assert from 'node:assert/strict';
import { SyncError } from '../../../core/errors';
import { type TaskId } from '../../../core/ids';
import type { TaskSnapshot } from '../../../core/ports/task-store';
import type { SimDevice } from '../../support/sim/sim-device';
import { SimWorld } from '../../support/sim/sim-world';
import { api, changesBy, conflictCopies, content, ui, syncedPair } from '../../support/sim/sim-tasks';



/**
 * A and B hold t1 and t2; A changes both (`edit` for t1); B crashes while applying them, when it
 * is about to write `crashAt` (after writing the other one). Returns B down, and t1 as B synced it.
 */
async function crashWhileApplying(edit: (t: TaskSnapshot) => TaskSnapshot, crashAt: 't1' | 't2'): Promise<{ world: SimWorld; a: SimDevice; b: SimDevice; t1: TaskId; synced: TaskSnapshot }> {
  const { world, a, b, t1, t2 } = await syncedPair();
  const synced = (await b.store.readTask(t1))!;
  world.tick();
  await a.write(edit((await a.store.readTask(t1))!));
  const onA2 = (await a.store.readTask(t2))!;
  await a.write({ ...onA2, ui: [...onA2.ui, ui(5001, 't2 on a')] });
  await world.run(a.storage!.syncToCloud());
  let armed = true;
  const write = b.store.writeTask.bind(b.store);
  b.store.writeTask = async (snapshot: TaskSnapshot) => {
    if (armed && snapshot.taskId === crashAt) {
      armed = false;
      b.kill();
      throw new SyncError('SIM_CRASHED', 'the process died');
    }
    return write(snapshot);
  };
  await world.run(b.storage!.syncFromCloud()).catch(() => undefined);
  assert.equal(armed, false, 'B crashed while applying');
  b.store.writeTask = write;
  return { world, a, b, t1, synced };
}

describe('HybridStorage: a page replayed after a crash', () => {
  it('keeps a message edited after the crash (the concurrent version in a conflict copy)', async () => {
    const { world, a, b, t1, synced } = await crashWhileApplying((t) => ({ ...t, api: t.api.map((e, i) => (i === 3 ? api('assistant', 'edited on a') : e)) }), 't2');
    // While B is down its assistant rewrites t1 from memory, with its own version of api[3].
    world.tick();
    await b.write({ ...synced, api: synced.api.map((e, i) => (i === 3 ? api('assistant', 'edited on b') : e)) });
    await b.start();
    await world.syncAll();
    const onA = (await a.store.readTask(t1))!;
    assert.deepEqual(content(await b.store.readTask(t1)), content(onA), 'both hold the same task');
    const versions = [onA.api[3], ...(await conflictCopies(a)).map((c) => c.api[3]), ...(await conflictCopies(b)).map((c) => c.api[3])].map((v) => JSON.stringify(v));
    assert.ok(versions.some((v) => v.includes('edited on a')), `a's edit survives: ${versions.join(' | ')}`);
    assert.ok(versions.some((v) => v.includes('edited on b')), `b's edit survives: ${versions.join(' | ')}`);
  });

  it('keeps a HistoryItem field edited after the crash, and sends back nothing the page wrote', async () => {
    const { world, a, b, t1 } = await crashWhileApplying((t) => ({ ...t, ui: [...t.ui, ui(5000, 'new on a')], historyItem: { ...t.historyItem!, task: 'renamed on a' } }), 't2');
    // B had written t1 (the rename, the new message) before it died; then its user changes the cost.
    const written = (await b.store.readTask(t1))!;
    assert.equal(written.historyItem?.task, 'renamed on a', 'the crash came after t1 was written');
    const sentBefore = (await changesBy(world, b)).length;
    world.tick();
    await b.write({ ...written, historyItem: { ...written.historyItem!, totalCost: 9 } });
    await b.start();
    await world.syncAll();
    const onA = (await a.store.readTask(t1))!;
    assert.equal(onA.historyItem?.task, 'renamed on a');
    assert.equal(onA.historyItem?.totalCost, 9, "B's edit made after the crash reached A");
    assert.deepEqual(content(await b.store.readTask(t1)), content(onA));
    const sent = (await changesBy(world, b)).slice(sentBefore);
    assert.deepEqual(sent.map((c) => [c.body.type, c.body.type === 'task.meta' ? Object.keys(c.body.fields) : null]), [['task.meta', ['totalCost']]], 'B sent its edit and nothing the page wrote');
  });

  it('sends nothing back when nothing was edited, whether the crash came before or after the task was written', async () => {
    for (const crashAt of ['t1', 't2'] as const) {
      const { world, a, b, t1 } = await crashWhileApplying((t) => ({ ...t, ui: [...t.ui, ui(5000, 'new on a')], api: t.api.slice(0, 2), historyItem: { ...t.historyItem!, task: 'renamed on a', tokensIn: 99 } }), crashAt);
      const before = (await changesBy(world, b)).length;
      await b.start();
      await world.syncAll();
      assert.equal((await changesBy(world, b)).length, before, `crash at ${crashAt}: B sent nothing`);
      assert.deepEqual(content(await b.store.readTask(t1)), content(await a.store.readTask(t1)));
      assert.equal((await conflictCopies(a)).length + (await conflictCopies(b)).length, 0);
    }
  });
  it('keeps a message appended after the crash at a position the page had truncated (found by a review)', async () => {
    const { world, a, b, t1 } = await crashWhileApplying((t) => ({ ...t, api: t.api.slice(0, 2) }), 't2');
    const written = (await b.store.readTask(t1))!;
    assert.equal(written.api.length, 2, 'the crashed apply wrote the truncate');
    world.tick();
    await b.write({ ...written, api: [...written.api, api('user', 'new on b after the crash')] });
    await b.start();
    await world.syncAll();
    const onB = (await b.store.readTask(t1))!;
    assert.deepEqual(onB.api.at(-1), api('user', 'new on b after the crash'));
    assert.deepEqual(content(onB), content(await a.store.readTask(t1)));
  });

  it('keeps a message edited after the crash that the page truncates, when the crash came before the task was written (found by a review)', async () => {
    const { world, a, b, t1, synced } = await crashWhileApplying((t) => ({ ...t, api: t.api.slice(0, 2) }), 't1');
    world.tick();
    await b.write({ ...synced, api: synced.api.map((e, i) => (i === 3 ? api('assistant', 'edited on b') : e)) });
    await b.start();
    await world.syncAll();
    const everywhere = JSON.stringify([await b.store.readTask(t1), await a.store.readTask(t1), ...(await conflictCopies(a)), ...(await conflictCopies(b))]);
    assert.ok(everywhere.includes('edited on b'), "B's edit survives");
    assert.deepEqual(content(await b.store.readTask(t1)), content(await a.store.readTask(t1)));
  });

  it('sends back no message the page wrote when a HistoryItem field was edited after the crash, so a later edit by its author is no conflict (found by a review)', async () => {
    const { world, a, b, t1 } = await crashWhileApplying((t) => ({ ...t, api: t.api.map((e, i) => (i === 3 ? api('assistant', 'edited on a') : e)) }), 't2');
    const written = (await b.store.readTask(t1))!;
    const sentBefore = (await changesBy(world, b)).length;
    world.tick();
    await b.write({ ...written, historyItem: { ...written.historyItem!, totalCost: 9 } });
    await b.start();
    await world.run(b.storage!.syncToCloud());
    const sent = (await changesBy(world, b)).slice(sentBefore);
    assert.deepEqual(sent.map((c) => [c.body.type, c.body.type === 'task.meta' ? Object.keys(c.body.fields) : null]), [['task.meta', ['totalCost']]]);
    // A, which wrote api[3], edits it again before it pulls: its own later version, no conflict.
    world.tick();
    const onA = (await a.store.readTask(t1))!;
    await a.write({ ...onA, api: onA.api.map((e, i) => (i === 3 ? api('assistant', 'edited on a, twice') : e)) });
    await world.run(a.storage!.syncToCloud());
    await world.syncAll();
    assert.equal((await conflictCopies(a)).length + (await conflictCopies(b)).length, 0, 'no conflict copy');
    assert.deepEqual(content(await b.store.readTask(t1)), content(await a.store.readTask(t1)));
    assert.deepEqual((await a.store.readTask(t1))!.api[3], api('assistant', 'edited on a, twice'));
  });
});
