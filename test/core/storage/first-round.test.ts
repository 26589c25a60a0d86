/**
 * A device's first round (HybridStorage.syncRound) over a store that already holds the relay's
 * tasks, as `roo-sync backfill` leaves it: what the relay has is recognised (task-adopt), even
 * when a task's changes arrive over several apply batches; only real local edits are sent, and
 * the round ends with nothing queued.
 */
import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import { asTaskId, type TaskId } from '../../../core/ids';
import type { ServerChange } from '../../../core/model/changes';
import type { TaskSnapshot } from '../../../core/ports/task-store';
import { isTaskConflictCopy } from '../../../core/storage/task-conflict-copy';
import { pullLog } from '../../support/sim/convergence';
import type { SimDevice } from '../../support/sim/sim-device';
import { SimWorld } from '../../support/sim/sim-world';

const ui = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });
const api = (role: string, text: string) => ({ role, content: [{ type: 'text', text }] });

async function longTask(device: SimDevice, id: string, messages: number): Promise<TaskId> {
  const taskId = asTaskId(id);
  await device.store.writeTask({
    source: 'roo-code',
    taskId,
    ui: Array.from({ length: messages }, (_, i) => ui(1000 + i, `${id} m${i}`)),
    api: Array.from({ length: messages / 2 }, (_, i) => api(i % 2 ? 'assistant' : 'user', `${id} a${i}`)),
    historyItem: { id: taskId, number: 1, ts: 1000, task: `task ${id}`, tokensIn: 10, tokensOut: 20, totalCost: 0.5 },
  });
  return taskId;
}

/** A syncs two long tasks; B (applying pulls in batches of 30 changes) gets a copy of A's store. */
async function backfilledPair(): Promise<{ world: SimWorld; a: SimDevice; b: SimDevice; ids: TaskId[] }> {
  const world = new SimWorld();
  const a = await world.addDevice();
  const ids = [await longTask(a, 't1', 60), await longTask(a, 't2', 40)];
  await world.run(a.storage!.syncToCloud());
  const b = await world.addDevice({ pullApplyBatch: 30 });
  for (const id of ids) await b.store.writeTask((await a.store.readTask(id))!);
  return { world, a, b, ids };
}

async function changesBy(world: SimWorld, device: SimDevice): Promise<ServerChange[]> {
  return (await pullLog(world.relay, world.userId, world.network)).filter((c) => c.deviceId === device.deviceId);
}

/** The device's task conflict copies. */
async function conflictCopies(device: SimDevice): Promise<TaskSnapshot[]> {
  const copies: TaskSnapshot[] = [];
  for (const id of await device.store.listTaskIds()) {
    const task = await device.store.readTask(id as TaskId);
    if (task && isTaskConflictCopy(task.historyItem)) copies.push(task);
  }
  return copies;
}

const content = (t: TaskSnapshot | null) => t && { ui: t.ui, api: t.api, historyItem: t.historyItem };

describe('HybridStorage#syncRound: a first round over a backfilled store', () => {
  it('sends nothing and changes no task when the store holds what the relay has', async () => {
    const { world, a, b, ids } = await backfilledPair();
    const head = world.relay.serverCursor(world.userId);
    let writes = 0;
    const write = b.store.writeTask.bind(b.store);
    b.store.writeTask = async (snapshot: TaskSnapshot) => {
      writes++;
      return write(snapshot);
    };
    const report = await world.run(b.storage!.syncRound());
    assert.equal(writes, 0, 'no task written: the disk already shows every version');
    assert.equal(report.pushed.accepted, 0);
    assert.equal(report.pushed.queued, 0);
    assert.ok(report.pulled.applied >= head, `pulled the whole log (${report.pulled.applied} of ${head})`);
    assert.ok(report.pulled.pages > 2, 'over several pages, applied in several batches');
    assert.equal(world.relay.serverCursor(world.userId), head, 'the log did not grow');
    assert.equal(b.storage!.pendingCount, 0);
    for (const id of ids) assert.deepEqual(content(await b.store.readTask(id)), content(await a.store.readTask(id)));
    const again = await world.run(b.storage!.syncRound());
    assert.equal(again.pushed.accepted + again.pushed.queued + again.pulled.applied, 0);
  });

  it('sends only the local edits of the copy, and the round ends with nothing queued', async () => {
    const { world, a, b, ids } = await backfilledPair();
    const t1 = (await b.store.readTask(ids[0]!))!;
    const editedApi = api('assistant', 'edited on b');
    await b.store.writeTask({
      ...t1,
      ui: [...t1.ui, ui(9000, 'added on b')],
      api: t1.api.map((e, i) => (i === 3 ? editedApi : e)),
      historyItem: { ...t1.historyItem!, task: 'renamed on b' },
    });
    const report = await world.run(b.storage!.syncRound());
    const sent = (await changesBy(world, b)).map((c) => c.entity).sort();
    assert.deepEqual(sent, [`stream/roo-code/t1/api/3`, `stream/roo-code/t1/ui/9000:0`, `task/roo-code/t1`].sort());
    assert.equal(report.pushed.accepted, 3);
    assert.equal(b.storage!.pendingCount, 0);

    await world.run(a.storage!.syncFromCloud());
    const onA = (await a.store.readTask(ids[0]!))!;
    assert.deepEqual(onA.ui.at(-1), ui(9000, 'added on b'));
    assert.equal(onA.historyItem?.task, 'renamed on b');
    assert.deepEqual(onA.api[3], editedApi);
    // b had not seen a's version of api 3: a keeps it in a task conflict copy.
    const copies = await conflictCopies(a);
    assert.equal(copies.length, 1);
    assert.deepEqual(copies[0]!.api[3], t1.api[3]);
  });

  it('pulls first again after a first pull cut short, and still sends nothing', async () => {
    const { world, a, b, ids } = await backfilledPair();
    const transport = b.transport!;
    const pull = transport.pull.bind(transport);
    let pulls = 0;
    transport.pull = async (cursor, limit) => {
      if (++pulls > 3) throw new Error('the network went away');
      return pull(cursor, limit);
    };
    await assert.rejects(world.run(b.storage!.syncRound()), (err: unknown) => isSyncError(err, 'STORAGE_SYNC_FAILED'));
    assert.ok(b.storage!.cursor > 0, 'the batches pulled before the failure are applied');
    assert.equal(b.storage!.caughtUp, false);
    transport.pull = pull;
    const report = await world.run(b.storage!.syncRound());
    assert.equal(b.storage!.caughtUp, true);
    assert.equal(report.pushed.accepted, 0);
    assert.deepEqual(await changesBy(world, b), []);
    for (const id of ids) assert.deepEqual(content(await b.store.readTask(id)), content(await a.store.readTask(id)));
  });

  it('brings an older copy up to the relay: later versions replace what the copy holds, nothing is sent', async () => {
    const { world, a, b, ids } = await backfilledPair();
    const t2 = (await a.store.readTask(ids[1]!))!;
    await a.store.writeTask({ ...t2, ui: [...t2.ui.slice(0, 30), ui(5000, 'later on a')], historyItem: { ...t2.historyItem!, tokensIn: 99 } });
    await world.run(a.storage!.syncToCloud());
    const report = await world.run(b.storage!.syncRound());
    assert.equal(report.pushed.accepted, 0);
    assert.deepEqual(await changesBy(world, b), []);
    assert.deepEqual(content(await b.store.readTask(ids[1]!)), content(await a.store.readTask(ids[1]!)));
  });

  it('recognises a copy made after a message, an api entry and the title were rewritten (their first versions come in an earlier batch)', async () => {
    const { world, a, b, ids } = await backfilledPair();
    const t1 = (await a.store.readTask(ids[0]!))!;
    await a.store.writeTask({ ...t1, ui: t1.ui.map((e, i) => (i === 0 ? ui(1000, 'rewritten') : e)), api: t1.api.map((e, i) => (i === 0 ? api('user', 'edited') : e)), historyItem: { ...t1.historyItem!, task: 'renamed' } });
    await world.run(a.storage!.syncToCloud());
    await b.store.writeTask((await a.store.readTask(ids[0]!))!);
    await world.run(b.storage!.syncRound());
    assert.deepEqual(await changesBy(world, b), []);
    assert.deepEqual(content(await b.store.readTask(ids[0]!)), content(await a.store.readTask(ids[0]!)));
  });

  it('lets a later edit on the relay replace an older rewritten version the copy holds, sending nothing', async () => {
    const { world, a, b, ids } = await backfilledPair();
    const edit = async (text: string): Promise<void> => {
      const t = (await a.store.readTask(ids[0]!))!;
      await a.store.writeTask({ ...t, ui: t.ui.map((e, i) => (i === 0 ? ui(1000, text) : e)) });
      await world.run(a.storage!.syncToCloud());
    };
    await edit('v2');
    await b.store.writeTask((await a.store.readTask(ids[0]!))!); // b's copy holds v2
    await edit('v3');
    await world.run(b.storage!.syncRound());
    await world.run(a.storage!.syncFromCloud());
    assert.deepEqual(await changesBy(world, b), []);
    assert.deepEqual((await a.store.readTask(ids[0]!))!.ui[0], ui(1000, 'v3'));
    assert.deepEqual((await b.store.readTask(ids[0]!))!.ui[0], ui(1000, 'v3'));
  });

  it('keeps two messages of one timestamp apart when the copy holds a later version of the first', async () => {
    const world = new SimWorld();
    const a = await world.addDevice();
    const taskId = asTaskId('t1');
    const later = Array.from({ length: 40 }, (_, i) => ui(2000 + i, `m${i}`));
    await a.store.writeTask({ source: 'roo-code', taskId, ui: [ui(1000, 'x'), ui(1000, 'y'), ...later], api: [], historyItem: { id: taskId, number: 1, ts: 1000, task: 't', tokensIn: 1, tokensOut: 1, totalCost: 0 } });
    await world.run(a.storage!.syncToCloud());
    const t = (await a.store.readTask(taskId))!;
    await a.store.writeTask({ ...t, ui: [ui(1000, 'x2'), ...t.ui.slice(1)] });
    await world.run(a.storage!.syncToCloud());
    const b = await world.addDevice({ pullApplyBatch: 20 });
    await b.store.writeTask((await a.store.readTask(taskId))!);
    await world.run(b.storage!.syncRound());
    await world.run(a.storage!.syncFromCloud());
    assert.deepEqual(await changesBy(world, b), []);
    for (const d of [a, b]) assert.deepEqual((await d.store.readTask(taskId))!.ui.slice(0, 2), [ui(1000, 'x2'), ui(1000, 'y')]);
  });

  it('sends, once caught up, an edit of the copy that matches no version on the relay, as made without seeing it: its author keeps a copy', async () => {
    const { world, a, b, ids } = await backfilledPair();
    const t1 = (await b.store.readTask(ids[0]!))!;
    await b.store.writeTask({ ...t1, ui: t1.ui.map((e, i) => (i === 0 ? ui(1000, 'edited on b') : e)) });
    const report = await world.run(b.storage!.syncRound());
    assert.equal(report.pushed.accepted, 1);
    const [sent] = await changesBy(world, b);
    assert.equal(sent?.entity, 'stream/roo-code/t1/ui/1000:0');
    assert.equal(sent!.baseSeq, null, 'b never had the version it replaces');
    await world.run(a.storage!.syncFromCloud());
    assert.deepEqual((await a.store.readTask(ids[0]!))!.ui[0], ui(1000, 'edited on b'));
    assert.deepEqual((await conflictCopies(a)).map((c) => c.ui[0]), [t1.ui[0]], 'a keeps its version in a conflict copy');
  });

  it('does not let a copy older than an edit made elsewhere replace it', async () => {
    const { world, a, b, ids } = await backfilledPair();
    const t1 = (await a.store.readTask(ids[0]!))!;
    await a.store.writeTask({ ...t1, ui: t1.ui.map((e, i) => (i === 1 ? ui(1001, 'edited on a') : e)) });
    await world.run(a.storage!.syncToCloud());
    await world.run(b.storage!.syncRound());
    await world.run(a.storage!.syncFromCloud());
    assert.deepEqual(await changesBy(world, b), []);
    for (const d of [a, b]) assert.deepEqual((await d.store.readTask(ids[0]!))!.ui[1], ui(1001, 'edited on a'));
  });
});

