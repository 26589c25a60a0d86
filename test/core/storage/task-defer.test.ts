/**
 * A task whose files cannot be read (a write cut short) holds back only its own pulled changes
 * (core/storage/task-defer.ts): the rest of the log is applied and the cursor moves on; once the
 * files read again, the waiting changes are applied as a pull would apply them, so nothing
 * pulled meanwhile is reverted and no local edit is lost.
 */
import assert from 'node:assert/strict';
import type { TaskSnapshot } from '../../../core/ports/task-store';
import { api, conflictCopies, content, editOn, syncedPair, ui } from '../../support/sim/sim-tasks';


/** A changes a task: `edit` gets its current form and returns the new one. */

describe('HybridStorage: a task whose files cannot be read', () => {
  it('holds back only its own changes: the other tasks are applied and the cursor moves on', async () => {
    const { world, a, b, t1, t2 } = await syncedPair();
    await editOn(world, a, t1, (t) => ({ ...t, ui: [...t.ui, ui(5000, 'new on a')] }));
    await editOn(world, a, t2, (t) => ({ ...t, ui: [...t.ui, ui(5001, 't2 on a')] }));
    const before = b.store.peek(t1);
    b.store.damage(t1);
    let writes = 0;
    const write = b.store.writeTask.bind(b.store);
    b.store.writeTask = async (snapshot: TaskSnapshot) => {
      if (snapshot.taskId === t1) writes++;
      return write(snapshot);
    };

    const pulled = await world.run(b.storage!.syncFromCloud());
    assert.equal(b.storage!.cursor, world.relay.serverCursor(world.userId), 'the cursor reached the head');
    assert.deepEqual((await b.store.readTask(t2))!.ui.at(-1), ui(5001, 't2 on a'), 'the readable task got its change');
    assert.equal(writes, 0, 'the unreadable task was not written');
    assert.deepEqual(b.store.peek(t1), before);
    assert.deepEqual(
      pulled.waiting.map((w) => [w.taskId, w.code, w.changes]),
      [['t1', 'STORE_CORRUPT_JSON', 1]],
    );
    assert.match(pulled.waiting[0]!.path ?? '', /t1\/ui_messages\.json$/);
    assert.equal(b.storage!.waitingTasks.length, 1);

    // Pulled again while still unreadable: nothing changes, it still waits.
    const again = await world.run(b.storage!.syncFromCloud());
    assert.equal(again.waiting.length, 1);

    b.store.repair(t1);
    const repaired = await world.run(b.storage!.syncFromCloud());
    assert.equal(repaired.waiting.length, 0);
    assert.equal(b.storage!.waitingTasks.length, 0);
    assert.deepEqual(content(await b.store.readTask(t1)), content(await a.store.readTask(t1)));
  });

  it('keeps the waiting changes across a restart', async () => {
    const { world, a, b, t1 } = await syncedPair();
    await editOn(world, a, t1, (t) => ({ ...t, ui: [...t.ui, ui(5000, 'new on a')], historyItem: { ...t.historyItem!, task: 'renamed on a' } }));
    b.store.damage(t1);
    await world.run(b.storage!.syncFromCloud());
    b.kill();
    b.store.repair(t1);
    await b.start();
    assert.equal(b.storage!.waitingTasks.length, 1, 'still waiting after the restart');
    const report = await world.run(b.storage!.syncFromCloud());
    assert.equal(report.waiting.length, 0);
    assert.deepEqual(content(await b.store.readTask(t1)), content(await a.store.readTask(t1)));
  });

  it('loses nothing pulled meanwhile: metadata, an api truncate and new messages stay applied', async () => {
    const { world, a, b, t1 } = await syncedPair();
    await editOn(world, a, t1, (t) => ({
      ...t,
      ui: [...t.ui, ui(5000, 'new on a')],
      api: t.api.slice(0, 2),
      historyItem: { ...t.historyItem!, task: 'renamed on a', tokensIn: 99 },
    }));
    b.store.damage(t1);
    await world.run(b.storage!.syncFromCloud());
    b.store.repair(t1);
    // The repair is seen by a detection first (a watcher), then a push and a pull.
    await world.run(b.storage!.syncToCloud({ tasks: [{ source: 'roo-code', taskId: t1 }], files: false }));
    await world.syncAll();
    const onA = (await a.store.readTask(t1))!;
    assert.equal(onA.historyItem?.task, 'renamed on a', 'the rename was not reverted');
    assert.equal(onA.historyItem?.tokensIn, 99);
    assert.equal(onA.api.length, 2, 'the truncate was not undone');
    assert.deepEqual(content(await b.store.readTask(t1)), content(onA));
    assert.equal((await conflictCopies(a)).length + (await conflictCopies(b)).length, 0, 'nothing conflicted');
  });

  it('applies a tombstone pulled meanwhile once the files read again', async () => {
    const { world, a, b, t1 } = await syncedPair();
    await world.run(a.storage!.deleteTask('roo-code', t1));
    await world.run(a.storage!.syncToCloud());
    b.store.damage(t1);
    await world.run(b.storage!.syncFromCloud());
    assert.ok(b.store.peek(t1), 'not deleted while it cannot be read');
    b.store.repair(t1);
    await world.syncAll();
    assert.equal(await b.store.readTask(t1), null);
    assert.equal(await a.store.readTask(t1), null, 'nothing brought it back');
  });

  it('sends a local edit made in the damaged file as unseen: the concurrent edit is kept in a conflict copy', async () => {
    const { world, a, b, t1 } = await syncedPair();
    const synced = (await b.store.readTask(t1))!;
    // A rewrites the last message; B's file breaks, then B's assistant rewrites the task from
    // memory with its own version of that message (an edit the device has not detected yet).
    await editOn(world, a, t1, (t) => ({ ...t, api: t.api.map((e, i) => (i === 3 ? api('assistant', 'edited on a') : e)) }));
    b.store.damage(t1);
    await world.run(b.storage!.syncFromCloud());
    world.tick();
    await b.write({ ...synced, api: synced.api.map((e, i) => (i === 3 ? api('assistant', 'edited on b') : e)) });
    await world.syncAll();
    const onA = (await a.store.readTask(t1))!;
    assert.deepEqual(content(await b.store.readTask(t1)), content(onA), 'both hold the same task');
    const versions = [onA.api[3], ...(await conflictCopies(a)).map((c) => c.api[3]), ...(await conflictCopies(b)).map((c) => c.api[3])];
    assert.ok(versions.some((v) => JSON.stringify(v).includes('edited on a')), `a's edit survives: ${JSON.stringify(versions)}`);
    assert.ok(versions.some((v) => JSON.stringify(v).includes('edited on b')), `b's edit survives: ${JSON.stringify(versions)}`);
  });

  it('settles a refused metadata edit of an unreadable task without stopping the push', async () => {
    const { world, a, b, t1, t2 } = await syncedPair();
    await editOn(world, a, t1, (t) => ({ ...t, historyItem: { ...t.historyItem!, task: 'renamed on a' } }));
    // B renames t1 too (not having pulled A's), adds to t2, and then t1's files break.
    world.tick();
    const t1b = (await b.store.readTask(t1))!;
    await b.write({ ...t1b, historyItem: { ...t1b.historyItem!, totalCost: 7 } });
    const t2b = (await b.store.readTask(t2))!;
    await b.write({ ...t2b, ui: [...t2b.ui, ui(6000, 't2 on b')] });
    // Detected and queued offline, then t1's files break before the push.
    b.transport!.disconnect();
    await world.run(b.storage!.syncToCloud({ tasks: [{ source: 'roo-code', taskId: t1 }, { source: 'roo-code', taskId: t2 }], files: false })).catch(() => undefined);
    assert.equal(b.storage!.pendingCount, 2);
    b.store.damage(t1);
    b.transport!.connect();
    const pushed = await world.run(b.storage!.syncToCloud({ tasks: [{ source: 'roo-code', taskId: t2 }], files: false }));
    assert.equal(b.storage!.pendingCount, 0, `everything went out (${JSON.stringify(pushed)})`);
    assert.equal(b.storage!.waitingTasks.length, 1, 'the current version waits for t1');
    b.store.repair(t1);
    await world.syncAll();
    const onA = (await a.store.readTask(t1))!;
    assert.equal(onA.historyItem?.task, 'renamed on a');
    assert.equal(onA.historyItem?.totalCost, 7);
    assert.deepEqual(content(await b.store.readTask(t1)), content(onA));
    assert.deepEqual((await a.store.readTask(t2))!.ui.at(-1), ui(6000, 't2 on b'));
  });
});
