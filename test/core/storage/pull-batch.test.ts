/**
 * A device far behind applies the pages it pulls in batches (HybridStorage `pullApplyBatch`):
 * each task is read and written once per batch, not once per page, so catching up after a long
 * time offline does not rewrite a long task once per page. Nothing is lost or applied twice.
 */
import assert from 'node:assert/strict';
import { asTaskId } from '../../../core/ids';
import type { TaskSnapshot } from '../../../core/ports/task-store';
import { SimWorld } from '../../support/sim/sim-world';

const ui = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });
const api = (text: string) => ({ role: 'assistant', content: [{ type: 'text', text }] });

describe('pull in batches', () => {
  it('writes a task once for many pages of its changes, and ends with all of them', async () => {
    const world = new SimWorld();
    const a = await world.addDevice();
    const b = await world.addDevice();
    const taskId = asTaskId('t1');
    const item = { id: taskId, number: 1, ts: 1000, task: 'long task', tokensIn: 0, tokensOut: 0, totalCost: 0 };
    await a.store.writeTask({ source: 'roo-code', taskId, ui: [ui(1000, 'start')], api: [api('start')], historyItem: item });
    await world.syncAll();
    // a writes 150 messages (300 stream puts: 12 pages of 25 for b) while b does not pull.
    const task = (await a.store.readTask(taskId))!;
    const uiAll = [...task.ui, ...Array.from({ length: 150 }, (_, i) => ui(2000 + i, `m${i}`))];
    const apiAll = [...task.api, ...Array.from({ length: 150 }, (_, i) => api(`m${i}`))];
    await a.store.writeTask({ ...task, ui: uiAll, api: apiAll });
    await world.run(a.storage!.syncToCloud());

    let writes = 0;
    const write = b.store.writeTask.bind(b.store);
    b.store.writeTask = async (snapshot: TaskSnapshot) => {
      if (snapshot.taskId === taskId) writes++;
      return write(snapshot);
    };
    const report = await world.run(b.storage!.syncFromCloud());
    assert.ok(report.pages >= 12, `pulled in ${report.pages} pages`);
    assert.equal(writes, 1, 'the task written once for all pages');
    const onB = (await b.store.readTask(taskId))!;
    assert.deepEqual(onB.ui, uiAll);
    assert.deepEqual(onB.api, apiAll);
    assert.equal(b.storage!.cursor, world.relay.serverCursor(world.userId));
  });
});
