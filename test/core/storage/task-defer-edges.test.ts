/**
 * Edges of core/storage/task-defer.ts (written by a review): a waiting task whose folder is
 * removed, a refused metadata edit against a tombstone, live changes repeating a waiting seq.
 */
import assert from 'node:assert/strict';
import { asTaskId } from '../../../core/ids';
import type { TaskSnapshot } from '../../../core/ports/task-store';
import { SimWorld } from '../../support/sim/sim-world';

const ui = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });
const api = (role: string, text: string) => ({ role, content: [{ type: 'text', text }] });
function task(id: string, messages: number): TaskSnapshot {
  const taskId = asTaskId(id);
  return {
    source: 'roo-code', taskId,
    ui: Array.from({ length: messages }, (_, i) => ui(1000 + i, `${id} m${i}`)),
    api: Array.from({ length: messages }, (_, i) => api(i % 2 ? 'assistant' : 'user', `${id} a${i}`)),
    historyItem: { id: taskId, number: 1, ts: 1000, task: `task ${id}`, tokensIn: 10, tokensOut: 20, totalCost: 0.5 },
  };
}
const content = (t: TaskSnapshot | null) => t && { ui: t.ui, api: t.api, historyItem: t.historyItem };

describe('HybridStorage: edges of a task that cannot be read', () => {
  it('a deferred task whose folder is removed locally comes back with what was pulled meanwhile', async () => {
    const world = new SimWorld();
    const a = await world.addDevice();
    const b = await world.addDevice();
    const t1 = asTaskId('t1');
    await a.write(task('t1', 4));
    await world.syncAll();
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
    const world = new SimWorld();
    const a = await world.addDevice();
    const b = await world.addDevice();
    const t1 = asTaskId('t1');
    await a.write(task('t1', 4));
    await world.syncAll();
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
    const world = new SimWorld();
    const a = await world.addDevice();
    const b = await world.addDevice();
    const t1 = asTaskId('t1');
    await a.write(task('t1', 4));
    await world.syncAll();
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
});
