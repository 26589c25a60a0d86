/**
 * Concurrent writes to one stream entry (two devices append api position N, or rewrite one
 * entry, without having seen each other's version) keep the displaced version in a task
 * conflict copy on every device; edits of a seen version, a device's own changes and replays
 * of a batch do not make copies.
 */
import assert from 'node:assert/strict';
import { asDeviceId, asTaskId, type TaskId } from '../../../core/ids';
import { hashJson } from '../../../core/model/hash';
import type { ServerChange, StreamPutBody } from '../../../core/model/changes';
import type { TaskSnapshot } from '../../../core/ports/task-store';
import { isValidTaskId, taskIdEra, taskIdTime } from '../../../core/stores/task-ids';
import { cacheEntries } from '../../../core/storage/entry-cache';
import { SyncState } from '../../../core/storage/sync-state';
import type { SyncContext } from '../../../core/storage/sync-context';
import { applyTaskChanges } from '../../../core/storage/task-apply';
import { buildTaskCopy, isTaskConflictCopy, taskCopyId, TASK_COPY_MARK } from '../../../core/storage/task-conflict-copy';
import { pullLog } from '../../support/sim/convergence';
import { memorySyncContext } from './memory-sync-context';
import type { SimDevice } from '../../support/sim/sim-device';
import { SimWorld } from '../../support/sim/sim-world';

const ui = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });
const api = (text: string) => ({ role: 'assistant', content: [{ type: 'text', text }] });
const item = (id: string) => ({ id, number: 1, ts: 1000, task: 'fix the build', tokensIn: 0, tokensOut: 0, totalCost: 0 });

async function sharedTask(): Promise<{ world: SimWorld; a: SimDevice; b: SimDevice; taskId: TaskId }> {
  const world = new SimWorld();
  const a = await world.addDevice();
  const b = await world.addDevice();
  const taskId = asTaskId('t1');
  await a.store.writeTask({ source: 'roo-code', taskId, ui: [ui(1000, 'fix the build')], api: [api('hello')], historyItem: item(taskId) });
  await world.syncAll();
  return { world, a, b, taskId };
}

/** Appends to a task as the assistant does (rewriting the whole files). */
async function append(device: SimDevice, taskId: TaskId, entries: { ui?: unknown[]; api?: unknown[] }): Promise<void> {
  const task = (await device.store.readTask(taskId))!;
  await device.store.writeTask({ ...task, ui: [...task.ui, ...(entries.ui ?? [])], api: [...task.api, ...(entries.api ?? [])] });
}

/** Every task on the device: the originals and the copies (by id). */
async function tasksOf(device: SimDevice): Promise<{ originals: TaskSnapshot[]; copies: TaskSnapshot[] }> {
  const originals: TaskSnapshot[] = [];
  const copies: TaskSnapshot[] = [];
  for (const id of await device.store.listTaskIds()) {
    const task = (await device.store.readTask(id))!;
    (isTaskConflictCopy(task.historyItem) ? copies : originals).push(task);
  }
  return { originals, copies };
}

const holds = (task: TaskSnapshot, stream: 'ui' | 'api', entry: unknown): boolean => task[stream].some((e) => hashJson(e) === hashJson(entry));

describe('task conflict copies', () => {
  describe('two devices append api entry N concurrently', () => {
    it('converges on the later version and keeps the displaced one in a copy on every device', async () => {
      const { world, a, b, taskId } = await sharedTask();
      // Neither has seen the other's work: both put api "1" (and "2"), and ui entries of their own.
      const fromA = [api('a: plan'), api('a: step 1')];
      const fromB = [api('b: different plan')];
      const told: Array<{ device: string; taskId: string; copyId: string; title: string | null }> = [];
      for (const [name, device] of [['a', a], ['b', b]] as const) device.storage!.onTaskConflictCopy((c) => told.push({ device: name, taskId: c.taskId, copyId: c.copyId, title: c.title }));
      await append(a, taskId, { ui: [ui(2000, 'a asks')], api: fromA });
      await world.run(a.storage!.syncToCloud());
      world.tick();
      await append(b, taskId, { ui: [ui(3000, 'b asks')], api: fromB });
      await world.run(b.storage!.syncToCloud());
      await world.syncAll();

      const onA = await tasksOf(a);
      const onB = await tasksOf(b);
      assert.deepEqual(onA, onB, 'both devices hold the same tasks and copies');
      assert.equal(onA.originals.length, 1);
      assert.equal(onA.copies.length, 1, 'one copy');
      const [main] = onA.originals;
      const [copy] = onA.copies;
      // The log decides the task: b's put of api "1" is later; a's "2" had no rival.
      assert.deepEqual(main!.api, [api('hello'), fromB[0], fromA[1]]);
      // The copy is a's task as it was before b's entry displaced its own.
      assert.deepEqual(copy!.api, [api('hello'), ...fromA]);
      // The device that wrote it said so, once (the others receive it as a new task).
      assert.deepEqual(told, [{ device: 'a', taskId, copyId: copy!.taskId, title: copy!.historyItem?.['task'] }]);
      assert.ok(told[0]!.title?.startsWith(TASK_COPY_MARK));
      assert.deepEqual(copy!.ui, [ui(1000, 'fix the build'), ui(2000, 'a asks')]);
      const title = String(copy!.historyItem!.task);
      assert.ok(title.startsWith(`${TASK_COPY_MARK}${a.deviceId} `) && title.endsWith('] fix the build'), title);
      assert.equal(taskIdEra(copy!.taskId), 'uuid4');
      // Nothing of either device is missing anywhere.
      for (const { originals, copies } of [onA, onB]) {
        for (const entry of [...fromA, ...fromB]) assert.ok([...originals, ...copies].some((t) => holds(t, 'api', entry)), JSON.stringify(entry));
        for (const entry of [ui(2000, 'a asks'), ui(3000, 'b asks')]) assert.ok(holds(originals[0]!, 'ui', entry));
      }
      // The copy reached the relay once, from a: every device has it from the log.
      const copyChanges = (await pullLog(world.relay, world.userId, world.network)).filter((c) => 'taskId' in c.body && c.body.taskId === copy!.taskId);
      assert.ok(copyChanges.length > 0 && copyChanges.every((c) => c.deviceId === a.deviceId));
      const puts = copyChanges.filter((c) => c.body.type === 'stream.put').map((c) => `${(c.body as StreamPutBody).stream}/${(c.body as StreamPutBody).key}`);
      assert.equal(new Set(puts).size, puts.length, 'no entry of the copy sent twice');
      // Quiet afterwards: nothing more to send, no second copy.
      const head = world.relay.serverCursor(world.userId);
      await world.syncAll();
      assert.equal(world.relay.serverCursor(world.userId), head);
      assert.equal((await tasksOf(b)).copies.length, 1);
    });

    it('makes one copy for a divergence applied in many pages (a device back from a long time offline)', async () => {
      const { world, a, b, taskId } = await sharedTask();
      // a's 60 appends are acknowledged; b, which never saw them, appends 70 at the same positions.
      const fromA = Array.from({ length: 60 }, (_, i) => api(`a: ${i}`));
      const fromB = Array.from({ length: 70 }, (_, i) => api(`b: ${i}`));
      await append(a, taskId, { api: fromA });
      await world.run(a.storage!.syncToCloud());
      await append(b, taskId, { api: fromB });
      await world.run(b.storage!.syncToCloud());
      // a pulls b's 70 puts in pages of 25: each page displaces more of a's run.
      await world.syncAll();
      const onA = await tasksOf(a);
      assert.deepEqual(await tasksOf(b), onA);
      assert.equal(onA.copies.length, 1, 'one copy, not one per page');
      assert.deepEqual(onA.copies[0]!.api, [api('hello'), ...fromA]);
      assert.deepEqual(onA.originals[0]!.api, [api('hello'), ...fromB]);
    });

    it('makes a second copy when a later batch displaces a version the first copy lacks', async () => {
      const { world, a, b, taskId } = await sharedTask();
      await append(a, taskId, { api: [api('a: 1')] });
      await world.run(a.storage!.syncToCloud());
      await append(b, taskId, { api: [api('b: 1')] });
      await world.run(b.storage!.syncToCloud());
      await world.run(a.storage!.syncFromCloud());
      // a appends after its copy was made; b, still not having seen it, writes there too.
      await append(a, taskId, { api: [api('a: 2')] });
      await world.run(a.storage!.syncToCloud());
      await append(b, taskId, { api: [api('b: 2')] });
      await world.run(b.storage!.syncToCloud());
      await world.syncAll();
      const onA = await tasksOf(a);
      assert.deepEqual(await tasksOf(b), onA);
      assert.equal(onA.originals[0]!.api.length, 3);
      for (const entry of [api('a: 1'), api('a: 2'), api('b: 1'), api('b: 2')]) {
        assert.ok([...onA.originals, ...onA.copies].some((t) => holds(t, 'api', entry)), JSON.stringify(entry));
      }
    });

    it('keeps every displaced version when one divergence goes on for more rounds than it has copy ids', async () => {
      const { world, a, b, taskId } = await sharedTask();
      const written: unknown[] = [];
      for (let round = 0; round < 20; round++) {
        // Each round a appends, then b appends at the same position without having seen it.
        await append(a, taskId, { api: [api(`a: ${round}`)] });
        await world.run(a.storage!.syncToCloud());
        await append(b, taskId, { api: [api(`b: ${round}`)] });
        await world.run(b.storage!.syncToCloud());
        await world.run(a.storage!.syncFromCloud());
        written.push(api(`a: ${round}`), api(`b: ${round}`));
      }
      await world.syncAll();
      const onA = await tasksOf(a);
      assert.deepEqual(await tasksOf(b), onA);
      for (const entry of written) assert.ok([...onA.originals, ...onA.copies].some((t) => holds(t, 'api', entry)), JSON.stringify(entry));
    });

    it('keeps the copy at every crash point of the apply, and makes it once', async () => {
      let crashed = 0;
      for (let point = 0; point < 30; point++) {
        const { world, a, b, taskId } = await sharedTask();
        await append(a, taskId, { api: [api('a: one')] });
        await world.run(a.storage!.syncToCloud());
        await append(b, taskId, { api: [api('b: one')] });
        await world.run(b.storage!.syncToCloud());
        a.armCrash(point);
        await world.run(a.storage!.syncFromCloud()).catch(() => undefined);
        if (a.crashedMidStep) {
          crashed++;
          a.kill();
          await a.start();
        } else a.disarmCrash();
        await world.syncAll();
        const onA = await tasksOf(a);
        assert.deepEqual(await tasksOf(b), onA, `crash point ${point}`);
        assert.equal(onA.copies.length, 1, `one copy at crash point ${point}`);
        assert.deepEqual(onA.copies[0]!.api, [api('hello'), api('a: one')], `crash point ${point}`);
        assert.deepEqual(onA.originals[0]!.api, [api('hello'), api('b: one')], `crash point ${point}`);
        const integrity = await world.run(a.storage!.validateDataIntegrity());
        assert.ok(integrity.ok, `crash point ${point}: ${JSON.stringify(integrity.problems.slice(0, 2))}`);
      }
      assert.ok(crashed >= 10, `crashed at ${crashed} points`);
    });
  });

  describe('a stale rewrite over a received api entry', () => {
    it('is sent as not having seen it, so its author keeps it in a copy', async () => {
      const { world, a, b, taskId } = await sharedTask();
      const stale = (await a.store.readTask(taskId))!; // the assistant on a holds the task in memory
      await append(b, taskId, { api: [api('b: answer')] });
      await world.run(b.storage!.syncToCloud());
      await world.run(a.storage!.syncFromCloud()); // a has b's entry at position 1 now ...
      assert.deepEqual((await a.store.readTask(taskId))!.api, [api('hello'), api('b: answer')]);
      // ... and its assistant, writing from memory, puts its own message there.
      await a.store.writeTask({ ...stale, api: [...stale.api, api('a: answer')] });
      await world.run(a.storage!.syncToCloud());
      const put = (await pullLog(world.relay, world.userId, world.network)).at(-1)!;
      assert.equal(put.deviceId, a.deviceId);
      assert.equal(put.baseSeq, null);
      await world.syncAll();
      await world.syncAll(); // b makes the copy in the first round's pull and sends it in the second
      const onA = await tasksOf(a);
      assert.deepEqual(await tasksOf(b), onA);
      assert.equal(onA.copies.length, 1);
      assert.deepEqual(onA.originals[0]!.api, [api('hello'), api('a: answer')]);
      assert.deepEqual(onA.copies[0]!.api, [api('hello'), api('b: answer')]);
      assert.ok(String(onA.copies[0]!.historyItem!.task).startsWith(`${TASK_COPY_MARK}${b.deviceId} `));
    });

    it('is not when the received entry moved (a message inserted before it)', async () => {
      const { world, a, b, taskId } = await sharedTask();
      await append(b, taskId, { api: [api('b: answer')] });
      await world.syncAll();
      const task = (await a.store.readTask(taskId))!;
      await a.store.writeTask({ ...task, api: [task.api[0], { role: 'user', content: 'summary', isSummary: true }, task.api[1]] });
      await world.run(a.storage!.syncToCloud());
      await world.syncAll();
      assert.equal((await tasksOf(b)).copies.length, 0);
      assert.deepEqual((await b.store.readTask(taskId))!.api, (await a.store.readTask(taskId))!.api);
      assert.equal((await b.store.readTask(taskId))!.api.length, 3);
    });
  });

  it('makes no copy when another device edits an entry it has seen (baseSeq set)', async () => {
    const { world, a, b, taskId } = await sharedTask();
    const task = (await b.store.readTask(taskId))!;
    // Condensing tags an old message in place: b rewrites a's api entry 0, which it has seen.
    const tagged = { ...(task.api[0] as object), condenseParent: 'summary-1' };
    await b.store.writeTask({ ...task, api: [tagged] });
    await world.run(b.storage!.syncToCloud());
    const put = (await pullLog(world.relay, world.userId, world.network)).filter((c) => c.body.type === 'stream.put' && c.body.stream === 'api').at(-1)!;
    assert.equal(put.deviceId, b.deviceId);
    const first = (await pullLog(world.relay, world.userId, world.network)).find((c) => c.entity === put.entity)!;
    assert.equal(put.baseSeq, first.seq, 'the edit names the version it replaced');
    await world.syncAll();
    assert.equal((await tasksOf(a)).copies.length, 0);
    assert.deepEqual((await a.store.readTask(taskId))!.api, [tagged]);
    assert.deepEqual(await a.store.readTask(taskId), await b.store.readTask(taskId));
  });

  it('names the version it edits as base, also after a second edit before the ack and after its journal was lost', async () => {
    const { world, a, b, taskId } = await sharedTask();
    const original = (await pullLog(world.relay, world.userId, world.network)).find((c) => c.entity === `stream/roo-code/${taskId}/api/0`)!;
    b.transport!.disconnect();
    for (const text of ['tagged once', 'tagged twice']) {
      const task = (await b.store.readTask(taskId))!;
      await b.store.writeTask({ ...task, api: [{ ...(task.api[0] as object), condenseParent: text }] });
      await world.run(b.storage!.syncToCloud()).catch(() => undefined); // offline: queued only
    }
    assert.ok(b.outbox.size > 0);
    b.kill();
    assert.ok(b.loseOutbox(world.relay.serverCursor(world.userId)));
    await b.start();
    await world.syncAll();
    const edits = (await pullLog(world.relay, world.userId, world.network)).filter((c) => c.entity === original.entity && c.deviceId === b.deviceId);
    assert.ok(edits.length > 0);
    for (const edit of edits) assert.equal(edit.baseSeq, original.seq);
    assert.equal((await tasksOf(a)).copies.length, 0);
    assert.deepEqual((await a.store.readTask(taskId))!.api, [{ ...api('hello'), condenseParent: 'tagged twice' }]);
  });

  it('makes no copy for its own edits coming back, nor for edits of them on another device', async () => {
    const { world, a, b, taskId } = await sharedTask();
    // a edits its own entry twice (the second before the first is acknowledged) ...
    let task = (await a.store.readTask(taskId))!;
    await a.store.writeTask({ ...task, api: [api('hello, edited')] });
    await world.run(a.storage!.syncToCloud());
    task = (await a.store.readTask(taskId))!;
    await a.store.writeTask({ ...task, api: [api('hello, edited twice')] });
    await world.run(a.storage!.syncToCloud());
    await world.run(a.storage!.syncFromCloud());
    // ... and b, having seen that, edits it too (as resuming a task adds blocks to a message).
    await world.run(b.storage!.syncFromCloud());
    task = (await b.store.readTask(taskId))!;
    const extended = { role: 'assistant', content: [...api('hello, edited twice').content, { type: 'text', text: 'added by b' }] };
    await b.store.writeTask({ ...task, api: [extended] });
    await world.run(b.storage!.syncToCloud());
    await world.syncAll();
    assert.equal((await tasksOf(a)).copies.length, 0);
    assert.equal((await tasksOf(b)).copies.length, 0);
    assert.deepEqual((await a.store.readTask(taskId))!.api, [extended]);
  });

  describe('applyTaskChanges', () => {
    const me = asDeviceId('device-me');
    const other = asDeviceId('device-other');
    const taskId = asTaskId('t9');
    const context = (): SyncContext => memorySyncContext(me, Date.UTC(2026, 10, 26, 12, 0));
    const put = (seq: number, deviceId: string, baseSeq: number | null, entry: unknown): ServerChange => {
      const body: StreamPutBody = { type: 'stream.put', source: 'roo-code', taskId, stream: 'api', key: '1', hash: hashJson(entry), entry };
      return { seq, deviceId: asDeviceId(deviceId), clientSeq: seq, baseSeq, body, entity: `stream/roo-code/${taskId}/api/1` };
    };
    const noPending = { entities: new Set<string>(), truncates: new Map() };
    /** A task whose api entry "1" is this device's own, acknowledged at seq 10. */
    const setUp = (): { ctx: SyncContext; snapshot: TaskSnapshot; task: ReturnType<SyncState['task']> } => {
      const ctx = context();
      const snapshot: TaskSnapshot = { source: 'roo-code', taskId, ui: [ui(1, 'x')], api: [api('zero'), api('mine')], historyItem: item(taskId) };
      const task = ctx.state.task('roo-code', taskId);
      task.streams.api.set('0', { key: '0', hash: hashJson(api('zero')), own: false, seq: 5 });
      task.streams.api.set('1', { key: '1', hash: hashJson(api('mine')), own: true, seq: 10 });
      return { ctx, snapshot, task };
    };

    it('reports a put that did not see this device version as displacing it, with the task as it was', async () => {
      for (const baseSeq of [null, 5, 9]) {
        const { ctx, snapshot, task } = setUp();
        const result = await applyTaskChanges(ctx, snapshot, task, [put(11, other, baseSeq, api('theirs'))], noPending);
        assert.ok(result.displaced, `baseSeq ${baseSeq}`);
        assert.equal(result.displaced.seq, 11);
        assert.equal(result.displaced.by, other);
        assert.deepEqual(result.displaced.before.api, [api('zero'), api('mine')]);
        assert.deepEqual(result.write!.api, [api('zero'), api('theirs')]);
      }
    });

    it('does not for an edit of the version it saw, its own change, the same content or an older put', async () => {
      const cases: Array<[string, ServerChange]> = [
        ['edit of the seen version', put(11, other, 10, api('theirs'))],
        ['edit of a later version', put(12, other, 11, api('theirs'))],
        ['own change coming back', put(11, me, null, api('mine, later'))],
        ['same content', put(11, other, null, api('mine'))],
        ['older than the version held', put(9, other, null, api('theirs'))],
      ];
      for (const [name, change] of cases) {
        const { ctx, snapshot, task } = setUp();
        const result = await applyTaskChanges(ctx, snapshot, task, [change], noPending);
        assert.equal(result.displaced, null, name);
      }
    });

    it('rebuilds the task as it was from what was synced when it is not on disk', async () => {
      const { ctx, task } = setUp();
      await cacheEntries(ctx.entryCache, [api('zero'), api('mine')].map((entry) => ({ hash: hashJson(entry), entry })));
      task.fields = { ...item(taskId) };
      const truncate: ServerChange = {
        seq: 12,
        deviceId: other,
        clientSeq: 12,
        baseSeq: null,
        body: { type: 'stream.truncate', source: 'roo-code', taskId, stream: 'api', afterKey: '0' },
        entity: `stream/roo-code/${taskId}/api`,
      };
      const result = await applyTaskChanges(ctx, null, task, [put(11, other, null, api('theirs')), truncate], noPending);
      assert.deepEqual(result.displaced?.before.api, [api('zero'), api('mine')]);
      assert.deepEqual(result.displaced?.before.historyItem, item(taskId));
      assert.deepEqual(result.write!.api, [api('zero')]);
    });

    it('reports one displacement per batch, the first, with the task before the whole batch', async () => {
      const { ctx, snapshot, task } = setUp();
      const changes = [put(11, other, null, api('theirs')), put(12, asDeviceId('device-third'), null, api('third'))];
      const result = await applyTaskChanges(ctx, snapshot, task, changes, noPending);
      assert.equal(result.displaced?.seq, 11);
      assert.equal(result.displaced?.entries, 1, 'the second put displaced what was no longer this device entry');
      assert.deepEqual(result.displaced?.before.api, [api('zero'), api('mine')]);
      assert.deepEqual(result.write!.api, [api('zero'), api('third')]);
    });
  });

  describe('#taskCopyId', () => {
    it('keeps the id format of the original, deterministically', () => {
      const originals = ['1736870400000', '0191e6b2-1c2d-7a3b-8c4d-5e6f7a8b9c0d', '3b241101-e2bb-4255-8caf-4136c566a962', 't1'];
      for (const original of originals) {
        const id = taskCopyId(asTaskId(original), 'dev-1', 42);
        assert.ok(isValidTaskId(id), id);
        assert.equal(id, taskCopyId(asTaskId(original), 'dev-1', 42));
        assert.notEqual(id, taskCopyId(asTaskId(original), 'dev-1', 43));
        assert.notEqual(id, taskCopyId(asTaskId(original), 'dev-2', 42));
        assert.notEqual(id, original);
        const era = taskIdEra(original);
        assert.equal(taskIdEra(id), era === 'other' ? 'uuid4' : era, `${original} -> ${id}`);
      }
      const v7 = '0191e6b2-1c2d-7a3b-8c4d-5e6f7a8b9c0d';
      assert.equal(taskIdTime(taskCopyId(asTaskId(v7), 'dev-1', 42)), taskIdTime(v7));
      assert.equal(taskIdEra(taskCopyId(asTaskId('1736870400000'), 'dev-1', 42, 8)), 'uuid4', 'falls back to a UUID');
    });
  });

  describe('#buildTaskCopy', () => {
    it('marks the title and drops the links to subtasks', () => {
      const before: TaskSnapshot = {
        source: 'roo-code',
        taskId: asTaskId('t1'),
        ui: [ui(1, 'x')],
        api: [api('y')],
        historyItem: { ...item('t1'), childIds: ['t2'], parentTaskId: 't0' },
      };
      const copy = buildTaskCopy({ before, seq: 7, by: 'dev-2', entries: 1, lost: [], divergence: 'api/1' }, asTaskId('t1c'), 'dev-1', Date.UTC(2026, 10, 26, 9, 5));
      assert.equal(copy.historyItem!.task, '[conflict copy dev-1 2026-11-26 09:05 UTC] fix the build');
      assert.equal(copy.historyItem!.id, 't1c');
      assert.equal(copy.historyItem!.childIds, undefined);
      assert.equal(copy.historyItem!.parentTaskId, 't0');
      assert.deepEqual([copy.ui, copy.api], [before.ui, before.api]);
      assert.ok(isTaskConflictCopy(copy.historyItem, 'dev-1'));
      assert.ok(!isTaskConflictCopy(copy.historyItem, 'dev-2'));
      assert.ok(!isTaskConflictCopy(before.historyItem));
    });
  });
});
