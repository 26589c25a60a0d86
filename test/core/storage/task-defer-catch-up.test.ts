/**
 * A task whose files break while a new device catches up (a backfilled copy, pulled over several
 * apply batches): what it holds of the relay's versions stays held until the task's own waiting
 * changes are applied, so a copied older version never goes back out as a local edit over a
 * later one (found by a review of core/storage/task-defer.ts). Each case has a control without
 * the damage.
 */
import assert from 'node:assert/strict';
import { asTaskId, type TaskId } from '../../../core/ids';
import type { TaskSnapshot } from '../../../core/ports/task-store';
import type { SimDevice } from '../../support/sim/sim-device';
import { api, changesBy, conflictCopies, content, editOn, simTask, ui } from '../../support/sim/sim-tasks';
import { SimWorld } from '../../support/sim/sim-world';

/**
 * A pushes t1, a filler task (so t1's later changes come in later apply batches) and version
 * `v2` of t1 (`edit`); B joins with a copy of A's store; A pushes `v3`. B's first round pulls in
 * batches of 25; with `damage`, t1's files break after the first batch (which held v2: it
 * matched nothing yet). Returns with B's round over, t1 as the damage left it.
 */
async function firstRoundOfACopy(edit: (t: TaskSnapshot, version: string) => TaskSnapshot, damage: boolean): Promise<{ world: SimWorld; a: SimDevice; b: SimDevice; t1: TaskId }> {
  const world = new SimWorld();
  const a = await world.addDevice();
  const t1 = asTaskId('t1');
  await a.write(simTask('t1', 4));
  await world.run(a.storage!.syncToCloud());
  await a.write(simTask('tf', 40));
  await world.run(a.storage!.syncToCloud());
  await editOn(world, a, t1, (t) => edit(t, 'v2'));
  const b = await world.addDevice({ pullApplyBatch: 25 });
  for (const id of await a.store.listTaskIds()) await b.store.writeTask((await a.store.readTask(id))!);
  await editOn(world, a, t1, (t) => edit(t, 'v3'));
  const head = world.relay.serverCursor(world.userId);
  const transport = b.transport!;
  const pull = transport.pull.bind(transport);
  transport.pull = async (cursor: number, limit: number) => {
    if (damage && cursor > 0 && !b.store.isDamaged(t1)) b.store.damage(t1);
    return pull(cursor, limit);
  };
  await world.run(b.storage!.syncRound());
  transport.pull = pull;
  assert.equal(b.storage!.cursor, head);
  assert.equal(b.storage!.waitingTasks.length, damage ? 1 : 0, 'only a damaged t1 waits');
  return { world, a, b, t1 };
}

/** firstRoundOfACopy, then t1 repaired and both synced: nothing of t1 went back, nothing conflicted. */
async function catchUp(edit: (t: TaskSnapshot, version: string) => TaskSnapshot, damage: boolean): Promise<{ world: SimWorld; a: SimDevice; b: SimDevice; t1: TaskId }> {
  const { world, a, b, t1 } = await firstRoundOfACopy(edit, damage);
  b.store.repair(t1);
  await world.syncAll();
  await world.syncAll();
  await assertNothingSentBack(world, a, b, t1);
  assert.equal((await conflictCopies(a)).length + (await conflictCopies(b)).length, 0, 'no conflict copy');
  return { world, a, b, t1 };
}

/** Both hold the same t1, and B sent nothing of it. */
async function assertNothingSentBack(world: SimWorld, a: SimDevice, b: SimDevice, t1: TaskId): Promise<void> {
  assert.deepEqual(content(await b.store.readTask(t1)), content(await a.store.readTask(t1)), 'converged');
  const sent = (await changesBy(world, b)).filter((c) => 'taskId' in c.body && c.body.taskId === 't1');
  assert.deepEqual(sent.map((c) => c.body), [], 'B sent nothing of t1 back');
}

const editApi3 = (t: TaskSnapshot, version: string): TaskSnapshot => ({ ...t, api: t.api.map((e, i) => (i === 3 ? api('assistant', version) : e)) });
const rename = (t: TaskSnapshot, version: string): TaskSnapshot => ({ ...t, historyItem: { ...t.historyItem!, task: version } });

/**
 * As `catchUp` with damage, the catch-up over and t1 still broken; then B pulls a change of
 * another task and crashes after `steps` durable writes, t1 is restored while B is down, and B
 * starts again: the journal replay meets t1's waiting changes. Returns false when that crash
 * left no journal to replay.
 */
async function crashReplayAfterCatchUp(steps: number): Promise<boolean> {
  const { world, a, b, t1 } = await firstRoundOfACopy(editApi3, true);
  await editOn(world, a, asTaskId('tf'), (t) => ({ ...t, ui: [...t.ui, ui(9000, 'tf on a')] }));
  b.armCrash(steps);
  await world.run(b.storage!.syncFromCloud()).catch(() => undefined);
  if (!(await b.stateStore.load())?.journal) return false;
  b.kill();
  b.store.repair(t1);
  await b.start();
  await world.syncAll();
  await world.syncAll();
  await assertNothingSentBack(world, a, b, t1);
  assert.deepEqual((await a.store.readTask(t1))!.api[3], api('assistant', 'v3'), `crash after ${steps} steps: the latest version stays`);
  return true;
}

describe('HybridStorage: a task that cannot be read while the device catches up', () => {
  it('keeps the latest version when a crash replay meets the waiting changes of a task restored meanwhile', async () => {
    let replays = 0;
    for (let steps = 1; steps <= 10; steps++) if (await crashReplayAfterCatchUp(steps)) replays++;
    assert.ok(replays >= 3, `a journal was replayed after ${replays} of the crashes`);
  });

  for (const damage of [true, false]) {
    const when = damage ? 'its files break during the catch-up' : 'control: no damage';
    it(`keeps the latest version of a message the copy held an older one of (${when})`, async () => {
      const { a, t1 } = await catchUp(editApi3, damage);
      assert.deepEqual((await a.store.readTask(t1))!.api[3], api('assistant', 'v3'));
    });

    it(`keeps a later rename over the copy's older title (${when})`, async () => {
      const { a, t1 } = await catchUp(rename, damage);
      assert.equal((await a.store.readTask(t1))!.historyItem?.task, 'v3');
    });
  }
});
