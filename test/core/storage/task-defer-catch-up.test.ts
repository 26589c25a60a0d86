/**
 * A task whose files break while a new device catches up (a backfilled copy, pulled over several
 * apply batches): what it holds of the relay's versions stays held until the task's own waiting
 * changes are applied, so a copied older version never goes back out as a local edit over a
 * later one (found by a review of core/storage/task-defer.ts). Each case has a control without
 * the damage.
 */
import assert from 'node:assert/strict';
import { SyncError } from '../../../core/errors';
import { asTaskId, type TaskId } from '../../../core/ids';
import type { ServerChange } from '../../../core/model/changes';
import type { TaskSnapshot } from '../../../core/ports/task-store';
import { isTaskConflictCopy } from '../../../core/storage/task-conflict-copy';
import { pullLog } from '../../support/sim/convergence';
import type { SimDevice } from '../../support/sim/sim-device';
import { SimWorld } from '../../support/sim/sim-world';

const ui = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });
const api = (role: string, text: string) => ({ role, content: [{ type: 'text', text }] });

function task(id: string, messages: number, title = `task ${id}`): TaskSnapshot {
  const taskId = asTaskId(id);
  return {
    source: 'roo-code',
    taskId,
    ui: Array.from({ length: messages }, (_, i) => ui(1000 + i, `${id} m${i}`)),
    api: Array.from({ length: messages }, (_, i) => api(i % 2 ? 'assistant' : 'user', `${id} a${i}`)),
    historyItem: { id: taskId, number: 1, ts: 1000, task: title, tokensIn: 10, tokensOut: 20, totalCost: 0.5 },
  };
}

async function editOn(world: SimWorld, device: SimDevice, id: TaskId, edit: (t: TaskSnapshot) => TaskSnapshot): Promise<void> {
  world.tick();
  await device.write(edit((await device.store.readTask(id))!));
  await world.run(device.storage!.syncToCloud({ tasks: [{ source: 'roo-code', taskId: id }], files: false }));
}

const content = (t: TaskSnapshot | null) => t && { ui: t.ui, api: t.api, historyItem: t.historyItem };

async function copiesOf(device: SimDevice): Promise<TaskSnapshot[]> {
  const copies: TaskSnapshot[] = [];
  for (const id of await device.store.listTaskIds()) {
    const t = device.store.peek(id);
    if (t && isTaskConflictCopy(t.historyItem)) copies.push(t);
  }
  return copies;
}

async function changesBy(world: SimWorld, device: SimDevice): Promise<ServerChange[]> {
  return (await pullLog(world.relay, world.userId, world.network)).filter((c) => c.deviceId === device.deviceId);
}

describe('HybridStorage: a task that cannot be read while the device catches up', () => {
  it('a task deferred while catching up keeps its held entries until its own later versions are seen (no revert of the latest version)', async () => {
    const world = new SimWorld();
    const a = await world.addDevice();
    const t1 = asTaskId('t1');
    await a.write(task('t1', 4));
    await world.run(a.storage!.syncToCloud());
    // A filler task pushes t1's later changes into later pages / apply batches.
    await a.write(task('tf', 40));
    await world.run(a.storage!.syncToCloud());
    await editOn(world, a, t1, (t) => ({ ...t, api: t.api.map((e, i) => (i === 3 ? api('assistant', 'v2') : e)) }));
    // B gets a copy of A's store now (api[3] = v2), as a backfill leaves it.
    const b = await world.addDevice({ pullApplyBatch: 25 });
    for (const id of await a.store.listTaskIds()) await b.store.writeTask((await a.store.readTask(id))!);
    // Then A edits api[3] again (v3): the latest version in the log.
    await editOn(world, a, t1, (t) => ({ ...t, api: t.api.map((e, i) => (i === 3 ? api('assistant', 'v3') : e)) }));
    const head = world.relay.serverCursor(world.userId);

    // t1's files break after B's first apply batch (which held api[3]: v2 matched nothing yet).
    const transport = b.transport!;
    const pull = transport.pull.bind(transport);
    transport.pull = async (cursor: number, limit: number) => {
      if (cursor > 0 && !b.store.isDamaged(t1)) b.store.damage(t1);
      return pull(cursor, limit);
    };
    await world.run(b.storage!.syncRound());
    assert.equal(b.storage!.cursor, head);
    assert.equal(b.storage!.waitingTasks.length, 1, 't1 waits');
    transport.pull = pull;
    b.store.repair(t1);
    await world.syncAll();
    await world.syncAll();

    const mine = (await changesBy(world, b)).filter((c) => 'taskId' in c.body && c.body.taskId === 't1');
    const onA = (await a.store.readTask(t1))!;
    const copyApi3 = [...(await copiesOf(a)), ...(await copiesOf(b))].map((c) => c.api[3]);
    assert.deepEqual(content(await b.store.readTask(t1)), content(onA), 'converged');
    assert.equal(JSON.stringify(onA.api[3]).includes('v3'), true, `the latest version stays: ${JSON.stringify(onA.api[3])}; copies hold ${JSON.stringify(copyApi3)}; B sent ${JSON.stringify(mine.map((c) => c.body))}`);
    const copies = [...(await copiesOf(a)), ...(await copiesOf(b))].map((c) => c.api[3]);
    assert.equal(mine.length, 0, `copies ${JSON.stringify(copies)}; B sent nothing back of t1: ${JSON.stringify(mine.map((c) => c.body))}`);
    assert.equal((await copiesOf(a)).length + (await copiesOf(b)).length, 0, 'no conflict copy');
  });

  it('control: the same catch-up without damage adopts and keeps v3', async () => {
    const world = new SimWorld();
    const a = await world.addDevice();
    const t1 = asTaskId('t1');
    await a.write(task('t1', 4));
    await world.run(a.storage!.syncToCloud());
    // A filler task pushes t1's later changes into later pages / apply batches.
    await a.write(task('tf', 40));
    await world.run(a.storage!.syncToCloud());
    await editOn(world, a, t1, (t) => ({ ...t, api: t.api.map((e, i) => (i === 3 ? api('assistant', 'v2') : e)) }));
    // B gets a copy of A's store now (api[3] = v2), as a backfill leaves it.
    const b = await world.addDevice({ pullApplyBatch: 25 });
    for (const id of await a.store.listTaskIds()) await b.store.writeTask((await a.store.readTask(id))!);
    // Then A edits api[3] again (v3): the latest version in the log.
    await editOn(world, a, t1, (t) => ({ ...t, api: t.api.map((e, i) => (i === 3 ? api('assistant', 'v3') : e)) }));
    const head = world.relay.serverCursor(world.userId);

    // t1's files break after B's first apply batch (which held api[3]: v2 matched nothing yet).
    const transport = b.transport!;
    const pull = transport.pull.bind(transport);
    transport.pull = async (cursor: number, limit: number) => {
      
      return pull(cursor, limit);
    };
    await world.run(b.storage!.syncRound());
    assert.equal(b.storage!.cursor, head);
    
    transport.pull = pull;
    b.store.repair(t1);
    await world.syncAll();
    await world.syncAll();

    const mine = (await changesBy(world, b)).filter((c) => 'taskId' in c.body && c.body.taskId === 't1');
    const onA = (await a.store.readTask(t1))!;
    const copyApi3 = [...(await copiesOf(a)), ...(await copiesOf(b))].map((c) => c.api[3]);
    assert.deepEqual(content(await b.store.readTask(t1)), content(onA), 'converged');
    assert.equal(JSON.stringify(onA.api[3]).includes('v3'), true, `the latest version stays: ${JSON.stringify(onA.api[3])}; copies hold ${JSON.stringify(copyApi3)}; B sent ${JSON.stringify(mine.map((c) => c.body))}`);
    const copies = [...(await copiesOf(a)), ...(await copiesOf(b))].map((c) => c.api[3]);
    assert.equal(mine.length, 0, `copies ${JSON.stringify(copies)}; B sent nothing back of t1: ${JSON.stringify(mine.map((c) => c.body))}`);
    assert.equal((await copiesOf(a)).length + (await copiesOf(b)).length, 0, 'no conflict copy');
  });
  it('a task deferred while catching up: a held metadata field released at catch-up end reverts a later rename', async () => {
    const world = new SimWorld();
    const a = await world.addDevice();
    const t1 = asTaskId('t1');
    await a.write(task('t1', 4));
    await world.run(a.storage!.syncToCloud());
    await a.write(task('tf', 40));
    await world.run(a.storage!.syncToCloud());
    await editOn(world, a, t1, (t) => ({ ...t, historyItem: { ...t.historyItem!, task: 'v2' } }));
    const b = await world.addDevice({ pullApplyBatch: 25 });
    for (const id of await a.store.listTaskIds()) await b.store.writeTask((await a.store.readTask(id))!);
    await editOn(world, a, t1, (t) => ({ ...t, historyItem: { ...t.historyItem!, task: 'v3' } }));
    const transport = b.transport!;
    const pull = transport.pull.bind(transport);
    transport.pull = async (cursor: number, limit: number) => {
      if (true && cursor > 0 && !b.store.isDamaged(t1)) b.store.damage(t1);
      return pull(cursor, limit);
    };
    await world.run(b.storage!.syncRound());
    transport.pull = pull;
    b.store.repair(t1);
    await world.syncAll();
    await world.syncAll();
    const mine = (await changesBy(world, b)).filter((c) => 'taskId' in c.body && c.body.taskId === 't1');
    const onA = (await a.store.readTask(t1))!;
    assert.deepEqual(content(await b.store.readTask(t1)), content(onA), 'converged');
    assert.equal(onA.historyItem?.task, 'v3', `A's later rename stays; B sent ${JSON.stringify(mine.map((c) => c.body))}`);
    assert.equal(mine.length, 0);
  });

  it('control (no damage): the later rename stays', async () => {
    const world = new SimWorld();
    const a = await world.addDevice();
    const t1 = asTaskId('t1');
    await a.write(task('t1', 4));
    await world.run(a.storage!.syncToCloud());
    await a.write(task('tf', 40));
    await world.run(a.storage!.syncToCloud());
    await editOn(world, a, t1, (t) => ({ ...t, historyItem: { ...t.historyItem!, task: 'v2' } }));
    const b = await world.addDevice({ pullApplyBatch: 25 });
    for (const id of await a.store.listTaskIds()) await b.store.writeTask((await a.store.readTask(id))!);
    await editOn(world, a, t1, (t) => ({ ...t, historyItem: { ...t.historyItem!, task: 'v3' } }));
    const transport = b.transport!;
    const pull = transport.pull.bind(transport);
    transport.pull = async (cursor: number, limit: number) => {
      if (false && cursor > 0 && !b.store.isDamaged(t1)) b.store.damage(t1);
      return pull(cursor, limit);
    };
    await world.run(b.storage!.syncRound());
    transport.pull = pull;
    b.store.repair(t1);
    await world.syncAll();
    await world.syncAll();
    const mine = (await changesBy(world, b)).filter((c) => 'taskId' in c.body && c.body.taskId === 't1');
    const onA = (await a.store.readTask(t1))!;
    assert.deepEqual(content(await b.store.readTask(t1)), content(onA), 'converged');
    assert.equal(onA.historyItem?.task, 'v3', `A's later rename stays; B sent ${JSON.stringify(mine.map((c) => c.body))}`);
    assert.equal(mine.length, 0);
  });
});
