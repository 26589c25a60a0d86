import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../../core/errors';
import { asTaskId, asWorkspaceId } from '../../../core/ids';
import { JsonFileSyncStateStore } from '../../../core/node/storage/json-file-sync-state-store';
import type { ServerChange } from '../../../core/model/changes';
import { CUT_LIMIT, loadSyncState, MemorySyncStateStore, noteCut, noteQueuedTruncate, noteTruncateAcked, SyncState, trackedList, type PersistedSyncState } from '../../../core/storage/sync-state';
import { clearDeferred, deferChanges, waitingTasks } from '../../../core/storage/task-defer';

/** The waiting log of `inner`, for test stores that wrap it. */
function waitingLogOf(inner: MemorySyncStateStore): Pick<MemorySyncStateStore, 'appendWaiting' | 'loadWaiting' | 'replaceWaiting'> {
  return { appendWaiting: (records) => inner.appendWaiting(records), loadWaiting: () => inner.loadWaiting(), replaceWaiting: (records) => inner.replaceWaiting(records) };
}

function sampleState(): SyncState {
  const state = new SyncState();
  state.cursor = 42;
  state.clock = '001760000000000-000001-dev';
  const task = state.task('roo-code', asTaskId('t1'));
  task.streams.ui.set('10:0', { key: '10:0', hash: 'a'.repeat(64), own: true, seq: 3 });
  task.streams.ui.set('9:0', { key: '9:0', hash: 'b'.repeat(64), own: false, seq: 2 });
  task.streams.api.set('0', { key: '0', hash: 'c'.repeat(64), own: false, seq: 1 });
  task.fields = { id: 't1', tokensIn: 5, mode: null };
  task.clocks = { id: '001760000000000-000000-dev', tokensIn: '001760000000000-000001-dev' };
  task.metaSeq = 7;
  state.setFile({
    workspaceId: asWorkspaceId('w'),
    path: 'src/a.ts',
    hash: 'd'.repeat(64),
    size: 3,
    mode: 0o644,
    mtime: 5,
    binary: false,
    deleted: false,
    baseHash: 'e'.repeat(64),
    baseSeq: 9,
    baseDeleted: false,
  });
  state.journal = { changes: [], cursor: 50 };
  return state;
}

describe('SyncState', () => {
  describe('what was queued and not yet acknowledged', () => {
    it('round-trips metaAcked, queued truncates and the outbox journal id', () => {
      const state = sampleState();
      const task = state.getTask('roo-code', 't1')!;
      task.metaAcked = '001760000000000-000000-dev';
      task.truncates.ui.push('9:0', null);
      state.outboxId = 'journal-1';
      const again = SyncState.fromPersisted(JSON.parse(JSON.stringify(state.toPersisted())));
      const back = again.getTask('roo-code', 't1')!;
      assert.equal(back.metaAcked, '001760000000000-000000-dev');
      assert.deepEqual(back.truncates, { ui: ['9:0', null], api: [] });
      assert.equal(again.outboxId, 'journal-1');
    });

    it('round-trips the base of an unacknowledged own version, with and without prev', () => {
      const state = sampleState();
      const task = state.getTask('roo-code', 't1')!;
      task.streams.api.set('1', { key: '1', hash: 'f'.repeat(64), own: true, seq: 0, base: 12 });
      task.streams.api.set('2', { key: '2', hash: 'e'.repeat(64), own: true, seq: 0, prev: ['d'.repeat(64)], base: 13 });
      task.streams.api.set('3', { key: '3', hash: 'e'.repeat(64), own: false, seq: 14, prev: ['a'.repeat(64), 'b'.repeat(64)] });
      const back = SyncState.fromPersisted(JSON.parse(JSON.stringify(state.toPersisted()))).getTask('roo-code', 't1')!;
      assert.deepEqual(back.streams.api.get('1'), { key: '1', hash: 'f'.repeat(64), own: true, seq: 0, base: 12 });
      assert.deepEqual(back.streams.api.get('2'), { key: '2', hash: 'e'.repeat(64), own: true, seq: 0, prev: ['d'.repeat(64)], base: 13 });
      assert.deepEqual(back.streams.api.get('3'), { key: '3', hash: 'e'.repeat(64), own: false, seq: 14, prev: ['a'.repeat(64), 'b'.repeat(64)] });
      assert.deepEqual(back.streams.api.get('0'), { key: '0', hash: 'c'.repeat(64), own: false, seq: 1 });
    });

    it('round-trips the seq of a remote file version skipped for a local change, only while above the base', () => {
      const state = sampleState();
      const file = state.getFile('w', 'src/a.ts')!;
      file.skippedSeq = 11;
      state.setFile({ ...file, path: 'old.ts', skippedSeq: 4 });
      const persisted = JSON.parse(JSON.stringify(state.toPersisted()));
      assert.equal(persisted.files['w\nsrc/a.ts'].length, 8);
      assert.equal(persisted.files['w\nold.ts'].length, 7, 'a skipped version at or below the base is settled: not kept');
      const back = SyncState.fromPersisted(persisted);
      assert.equal(back.getFile('w', 'src/a.ts')!.skippedSeq, 11);
      assert.equal(back.getFile('w', 'old.ts')!.skippedSeq, undefined);
      persisted.files['w\nsrc/a.ts'][7] = -1;
      assert.throws(() => SyncState.fromPersisted(persisted), (err: unknown) => isSyncError(err, 'STORAGE_STATE_CORRUPT'));
    });

    it('round-trips the ui entries remote truncates removed, keeping the newest CUT_LIMIT', () => {
      const state = sampleState();
      const task = state.getTask('roo-code', 't1')!;
      for (let i = 0; i < CUT_LIMIT + 2; i++) noteCut(task, { key: `${i}:0`, hash: String(i).padStart(64, '0'), own: false, seq: i + 1 });
      noteCut(task, { key: '5:0', hash: 'f'.repeat(64), own: false, seq: 99, prev: ['e'.repeat(64)] }); // removed again: now the newest
      assert.equal(task.cut.size, CUT_LIMIT);
      assert.deepEqual(task.cut.get('5:0'), ['e'.repeat(64), 'f'.repeat(64)]);
      assert.equal(task.cut.has('0:0') || task.cut.has('1:0'), false);
      const back = SyncState.fromPersisted(JSON.parse(JSON.stringify(state.toPersisted()))).getTask('roo-code', 't1')!;
      assert.deepEqual([...back.cut], [...task.cut]);
      assert.deepEqual([...back.cut.keys()].at(-1), '5:0');
      const persisted = JSON.parse(JSON.stringify(state.toPersisted()));
      persisted.tasks['roo-code/t1'].pc = [['1:0']];
      assert.throws(() => SyncState.fromPersisted(persisted), (err: unknown) => isSyncError(err, 'STORAGE_STATE_CORRUPT'));
    });

    it('counts everything a state from before these fields holds as acknowledged, as it was then', () => {
      const persisted = sampleState().toPersisted();
      delete persisted.tasks['roo-code/t1']!.ma;
      delete persisted.ob;
      const state = SyncState.fromPersisted(JSON.parse(JSON.stringify(persisted)));
      assert.equal(state.getTask('roo-code', 't1')!.metaAcked, '001760000000000-000001-dev');
      assert.equal(state.outboxId, null);
    });

    it('mirrors the outbox: a truncate dropping at least as much replaces the latest, an ack clears it and those before', () => {
      const task = new SyncState().task('roo-code', asTaskId('t'));
      noteQueuedTruncate(task, 'ui', '5:0');
      noteQueuedTruncate(task, 'ui', '8:0'); // drops less: both stay queued
      noteQueuedTruncate(task, 'ui', '7:0'); // replaces 8:0
      assert.deepEqual(task.truncates.ui, ['5:0', '7:0']);
      assert.equal(noteTruncateAcked(task, 'ui', '9:0'), false);
      assert.equal(noteTruncateAcked(task, 'ui', '7:0'), true);
      assert.deepEqual(task.truncates.ui, []);
      noteQueuedTruncate(task, 'ui', '3:0');
      noteQueuedTruncate(task, 'ui', null);
      assert.deepEqual(task.truncates.ui, [null]);
    });
  });

  describe('#toPersisted / .fromPersisted', () => {
    it('round-trips tasks, files, clock and journal', () => {
      const persisted = sampleState().toPersisted();
      const back = SyncState.fromPersisted(JSON.parse(JSON.stringify(persisted)));
      assert.deepEqual(back.toPersisted(), persisted);
      assert.deepEqual(trackedList(back.getTask('roo-code', 't1')!, 'ui').map((e) => e.key), ['9:0', '10:0']);
      assert.equal(back.getFile('w', 'src/a.ts')?.baseSeq, 9);
    });

    it('round-trips whether a pull reached the head; a state from before that says so when its cursor moved', () => {
      const state = new SyncState();
      assert.equal(SyncState.fromPersisted(state.toPersisted()).caughtUp, false);
      state.caughtUp = true;
      assert.equal(SyncState.fromPersisted(state.toPersisted()).caughtUp, true);
      for (const cursor of [0, 12]) {
        const old = { ...new SyncState().toPersisted(), cursor };
        delete old.up;
        assert.equal(SyncState.fromPersisted(old).caughtUp, cursor > 0);
      }
    });

    it('saves the changes that wait for a task\'s files through the waiting log, once each, and loads them with why', async () => {
      const store = new MemorySyncStateStore();
      const state = sampleState();
      const task = state.task('roo-code', asTaskId('t1'));
      const meta = (seq: number) => ({ seq, deviceId: 'd2', clientSeq: seq, baseSeq: null, entity: 'task/roo-code/t1', body: { type: 'task.meta', source: 'roo-code', taskId: 't1', fields: { task: `x${seq}` }, clocks: { task: `00176000000000${seq % 10}-000000-d2` } } }) as unknown as ServerChange;
      const why = { code: 'STORE_CORRUPT_JSON', path: '/s/tasks/t1/ui_messages.json', reason: 'Unexpected end' };
      deferChanges(state, task, [meta(43)], why, 'd1');
      await state.saveTo(store);
      deferChanges(state, task, [meta(44)], why, 'd1');
      await state.saveTo(store);
      await state.saveTo(store);
      assert.equal(store.waitingRecords, 3, 'a reset and each change once, however often the state is saved');
      const back = await loadSyncState(store);
      assert.deepEqual(back.waiting.get('roo-code/t1')?.changes, [meta(43), meta(44)]);
      assert.deepEqual(waitingTasks(back), [{ source: 'roo-code', taskId: 't1', changes: 2, ...why }]);
      // Applied: once a header without the task is saved, nothing waits for it, whatever the log holds.
      clearDeferred(back, back.getTask('roo-code', 't1')!);
      await back.saveTo(store);
      assert.equal((await loadSyncState(store)).waiting.size, 0);
      // Waiting again later starts afresh: the old records do not come back.
      const again = await loadSyncState(store);
      deferChanges(again, again.getTask('roo-code', 't1')!, [meta(50)], why, 'd1');
      await again.saveTo(store);
      assert.deepEqual((await loadSyncState(store)).waiting.get('roo-code/t1')?.changes, [meta(50)]);
    });

    it('refuses a header whose waiting tasks have no reason with STORAGE_STATE_CORRUPT', () => {
      const persisted = { ...new SyncState().toPersisted(), dw: { 'roo-code/t1': { path: 'x' } } };
      assert.throws(() => SyncState.fromPersisted(persisted), (err: unknown) => isSyncError(err, 'STORAGE_STATE_CORRUPT'));
    });

    it('keeps one waiting version of an entry another device rewrote, but every own one, every one of an own entry and every one before a truncate', () => {
      const state = new SyncState();
      state.caughtUp = true;
      const task = state.task('roo-code', asTaskId('t1'));
      task.streams.ui.set('7:0', { key: '7:0', hash: 'o'.repeat(64), own: true, seq: 1 });
      let seq = 10;
      const put = (key: string, by: string) => ({ seq: ++seq, deviceId: by, clientSeq: seq, baseSeq: null, entity: `stream/roo-code/t1/ui/${key}`, body: { type: 'stream.put', source: 'roo-code', taskId: 't1', stream: 'ui', key, hash: String(seq).padStart(64, '0'), entry: { ts: 5, text: `v${seq}` } } }) as unknown as ServerChange;
      const truncate = () => ({ seq: ++seq, deviceId: 'd2', clientSeq: seq, baseSeq: null, entity: 'stream/roo-code/t1/ui', body: { type: 'stream.truncate', source: 'roo-code', taskId: 't1', stream: 'ui', afterKey: null } }) as unknown as ServerChange;
      const why = { code: 'STORE_CORRUPT_JSON' };
      // A message streamed by d2 in three versions, one of this device's own coming back, and an entry it tracks as its own.
      deferChanges(state, task, [put('5:0', 'd2'), put('5:0', 'd2'), put('6:0', 'd1'), put('6:0', 'd2'), put('7:0', 'd2'), put('7:0', 'd2')], why, 'd1');
      deferChanges(state, task, [put('5:0', 'd2')], why, 'd1');
      const kept = (changes: readonly ServerChange[]) => changes.map((c) => `${(c.body as { key: string }).key}@${c.seq}`);
      const waiting = (st: SyncState) => st.waiting.get('roo-code/t1')?.changes ?? [];
      assert.deepEqual(kept(waiting(state)), ['6:0@13', '6:0@14', '7:0@15', '7:0@16', '5:0@17']);
      // A truncate between two versions keeps the one before it.
      deferChanges(state, task, [truncate(), put('5:0', 'd2')], why, 'd1');
      assert.deepEqual(kept(waiting(state).filter((c) => c.body.type === 'stream.put' && c.body.key === '5:0')), ['5:0@17', '5:0@19']);
      // While catching up, every version waits (task-adopt matches a copy against each).
      const catching = new SyncState();
      const t2 = catching.task('roo-code', asTaskId('t1'));
      deferChanges(catching, t2, [put('5:0', 'd2'), put('5:0', 'd2')], why, 'd1');
      assert.equal(waiting(catching).length, 2);
    });

    it('refuses a state of the wrong shape with STORAGE_STATE_CORRUPT', () => {
      for (const bad of [null, { v: 2 }, { v: 1, cursor: -1, tasks: {}, files: {} }, { v: 1, cursor: 0, tasks: { 'nope/x': {} }, files: {} }]) {
        assert.throws(() => SyncState.fromPersisted(bad), (err: unknown) => isSyncError(err, 'STORAGE_STATE_CORRUPT'));
      }
    });
  });

  describe('loadSyncState', () => {
    it('gives an empty state when nothing was saved, and the saved one after a save', async () => {
      const store = new MemorySyncStateStore();
      assert.equal((await loadSyncState(store)).cursor, 0);
      await store.save(sampleState().toPersisted());
      assert.equal((await loadSyncState(store)).cursor, 42);
    });
  });
});

describe('SyncState#saveTo', () => {
  it('writes only the tasks changed since the last save when the store can', async () => {
    const written: string[][] = [];
    const inner = new MemorySyncStateStore();
    const store = {
      load: () => inner.load(),
      save: (state: Parameters<MemorySyncStateStore['save']>[0]) => {
        written.push(Object.keys(state.tasks));
        return inner.save(state);
      },
      saveChanges: (header: Parameters<MemorySyncStateStore['saveChanges']>[0], tasks: Parameters<MemorySyncStateStore['saveChanges']>[1]) => {
        written.push([...tasks.keys()]);
        return inner.saveChanges(header, tasks);
      },
      ...waitingLogOf(inner),
    };
    const state = sampleState();
    state.task('roo-code', asTaskId('t2'));
    await state.saveTo(store);
    const t2 = state.getTask('roo-code', 't2')!;
    t2.metaSeq = 99;
    state.markDirty(t2);
    state.cursor = 77;
    await state.saveTo(store);
    assert.deepEqual(written, [['roo-code/t1', 'roo-code/t2'], ['roo-code/t2']]);
    const back = await loadSyncState(inner);
    assert.equal(back.cursor, 77);
    assert.equal(back.getTask('roo-code', 't2')?.metaSeq, 99);
    assert.equal(back.getTask('roo-code', 't1')?.metaSeq, 7);
  });
});

describe('SyncState#hold', () => {
  for (const paged of [true, false]) {
    it(`saves a held task as it was before the hold, and as it is after the release (${paged ? 'changed tasks only' : 'whole state'})`, async () => {
      const inner = new MemorySyncStateStore();
      const store = paged ? inner : { load: () => inner.load(), save: (state: Parameters<MemorySyncStateStore['save']>[0]) => inner.save(state), ...waitingLogOf(inner) };
      const state = sampleState();
      await state.saveTo(store);
      const held = [{ source: 'roo-code' as const, taskId: 't1' }, { source: 'roo-code' as const, taskId: 'new' }];
      state.hold(held);
      // A detection changes the held tasks (one of them new) while another save runs.
      const t1 = state.task('roo-code', asTaskId('t1'));
      t1.streams.ui.set('11:0', { key: '11:0', hash: 'f'.repeat(64), own: true, seq: 0 });
      state.markDirty(t1);
      state.task('roo-code', asTaskId('new')).metaSeq = 5;
      state.cursor = 50;
      await state.saveTo(store);
      let back = await loadSyncState(inner);
      assert.equal(back.cursor, 50, 'the rest of the state is saved');
      assert.equal(back.getTask('roo-code', 't1')?.streams.ui.has('11:0'), false, 'not the held change');
      assert.equal(back.getTask('roo-code', 'new'), undefined, 'not the held new task');
      state.release(held);
      await state.saveTo(store);
      back = await loadSyncState(inner);
      assert.equal(back.getTask('roo-code', 't1')?.streams.ui.get('11:0')?.hash, 'f'.repeat(64));
      assert.equal(back.getTask('roo-code', 'new')?.metaSeq, 5);
    });
  }
});

describe('JsonFileSyncStateStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roo-sync-state-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends waiting records durably, leaves out a record cut short at the end, and replaces the log whole', async () => {
    const path = join(dir, 'state.json');
    const store = new JsonFileSyncStateStore(path);
    assert.deepEqual(await store.loadWaiting(), []);
    const change = { seq: 7, deviceId: 'd2', clientSeq: 1, baseSeq: null, entity: 'task/roo-code/t1', body: { type: 'task.meta', source: 'roo-code', taskId: 't1', fields: {}, clocks: {} } } as unknown as ServerChange;
    await store.appendWaiting([{ k: 'roo-code/t1', reset: true }, { k: 'roo-code/t1', c: change }]);
    await writeFile(`${path}.waiting`, `${await readFile(`${path}.waiting`, 'utf8')}{"k":"roo-code/t1","c":{"seq"`);
    assert.deepEqual(await store.loadWaiting(), [{ k: 'roo-code/t1', reset: true }, { k: 'roo-code/t1', c: change }]);
    await store.replaceWaiting([{ k: 'roo-code/t2', reset: true }]);
    assert.deepEqual(await store.loadWaiting(), [{ k: 'roo-code/t2', reset: true }]);
    assert.deepEqual((await readdir(dir)).sort(), ['state.json.waiting']);
    await writeFile(`${path}.waiting`, 'not json\n{"k":"x","reset":true}\n');
    await assert.rejects(store.loadWaiting(), (err: unknown) => isSyncError(err, 'STORAGE_STATE_CORRUPT'));
  });

  it('loads null when no file exists, then what was saved, leaving no temp file', async () => {
    const store = new JsonFileSyncStateStore(join(dir, 'nested', 'state.json'));
    assert.equal(await store.load(), null);
    const persisted = sampleState().toPersisted();
    await store.save(persisted);
    await store.save(persisted);
    assert.deepEqual(await store.load(), persisted);
    assert.deepEqual((await readdir(join(dir, 'nested'))).sort(), ['state.json', 'state.json.d']);
    assert.deepEqual(await readdir(join(dir, 'nested', 'state.json.d')), ['roo-code%2Ft1.json']);
  });

  it('saves changed tasks through saveTo and loads them with the rest', async () => {
    const store = new JsonFileSyncStateStore(join(dir, 'state.json'));
    const state = sampleState();
    await state.saveTo(store);
    const t2 = state.task('roo-code', asTaskId('t2'));
    t2.metaSeq = 5;
    state.markDirty(t2);
    state.cursor = 43;
    await state.saveTo(store);
    const back = await loadSyncState(store);
    assert.equal(back.cursor, 43);
    assert.equal(back.getTask('roo-code', 't2')?.metaSeq, 5);
    assert.equal(back.getTask('roo-code', 't1')?.streams.ui.size, 2);
  });

  it('reports a corrupt file with STORAGE_STATE_CORRUPT', async () => {
    const path = join(dir, 'state.json');
    await writeFile(path, '{"v":1,"cur');
    const store = new JsonFileSyncStateStore(path);
    await assert.rejects(store.load(), (err: unknown) => isSyncError(err, 'STORAGE_STATE_CORRUPT'));
    await assert.rejects(loadSyncState(store), (err: unknown) => isSyncError(err, 'STORAGE_STATE_CORRUPT'));
  });

  describe('paged by task (loadPaged)', () => {
    /** A state of `count` tasks saved in `store`, each with one ui entry and metaSeq = its number. */
    async function savedTasks(store: JsonFileSyncStateStore, count: number): Promise<void> {
      const state = await loadSyncState(store);
      for (let i = 0; i < count; i++) {
        const task = state.task('roo-code', asTaskId(`t${i}`));
        task.streams.ui.set(`${i}:0`, { key: `${i}:0`, hash: String(i % 10).repeat(64), own: false, seq: i + 1 });
        task.metaSeq = i;
      }
      await state.saveTo(store);
    }

    it('reads no task on load, pages one in when used, and counts and lists every task', async () => {
      const store = new JsonFileSyncStateStore(join(dir, 'state.json'));
      await savedTasks(store, 20);
      const state = await loadSyncState(store);
      assert.equal(state.tasksInMemory, 0);
      assert.equal(state.taskCount, 20);
      assert.equal(state.getTask('roo-code', 't7')?.metaSeq, 7);
      assert.equal(state.getTask('roo-code', 't7')?.streams.ui.get('7:0')?.seq, 8);
      assert.equal(state.tasksInMemory, 1);
      assert.equal(state.getTask('roo-code', 'absent'), undefined);
      assert.deepEqual([...state.allTasks()].map((t) => t.metaSeq).sort((a, b) => a - b), [...Array(20).keys()]);
      assert.equal(state.tasksInMemory, 1, 'listing every task keeps none it read');
    });

    it('trim forgets saved unchanged tasks past the bound, keeps changed and unsaved ones, and nothing is lost', async () => {
      const store = new JsonFileSyncStateStore(join(dir, 'state.json'));
      await savedTasks(store, 10);
      const state = await loadSyncState(store);
      for (let i = 0; i < 10; i++) state.getTask('roo-code', `t${i}`);
      const changed = state.getTask('roo-code', 't0')!;
      changed.metaSeq = 100;
      state.markDirty(changed);
      state.task('roo-code', asTaskId('new')).metaSeq = 200;
      state.trim(0);
      assert.equal(state.tasksInMemory, 2, 'the changed task and the new one stay until saved');
      assert.equal(state.getTask('roo-code', 't0'), changed);
      await state.saveTo(store);
      state.trim(0);
      assert.equal(state.tasksInMemory, 0);
      assert.equal(state.taskCount, 11);
      assert.equal(state.getTask('roo-code', 't0')?.metaSeq, 100);
      assert.equal(state.getTask('roo-code', 'new')?.metaSeq, 200);
      const again = await loadSyncState(store);
      assert.deepEqual([...again.allTasks()].map((t) => t.metaSeq).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 100, 200]);
    });

    it('lists a task the caller pages in while listing, as the object it paged in', async () => {
      const store = new JsonFileSyncStateStore(join(dir, 'state.json'));
      await savedTasks(store, 5);
      const state = await loadSyncState(store);
      const seen = new Map<string, unknown>();
      for (const task of state.allTasks()) {
        seen.set(task.taskId, task);
        if (seen.size === 1) for (let i = 0; i < 5; i++) state.getTask('roo-code', `t${i}`);
      }
      assert.equal(seen.size, 5);
      for (let i = 0; i < 5; i++) if (seen.get(`t${i}`) !== seen.values().next().value) assert.equal(seen.get(`t${i}`), state.getTask('roo-code', `t${i}`));
    });

    it('trim forgets the least recently used tasks first', async () => {
      const store = new JsonFileSyncStateStore(join(dir, 'state.json'));
      await savedTasks(store, 4);
      const state = await loadSyncState(store);
      const [t0, t1, t2, t3] = [0, 1, 2, 3].map((i) => state.getTask('roo-code', `t${i}`)!);
      state.getTask('roo-code', 't0');
      state.trim(2);
      assert.equal(state.tasksInMemory, 2);
      assert.equal(state.getTask('roo-code', 't0'), t0, 'used last: kept');
      assert.equal(state.getTask('roo-code', 't3'), t3);
      assert.notEqual(state.getTask('roo-code', 't1'), t1, 'forgotten: read again');
      assert.notEqual(state.getTask('roo-code', 't2'), t2);
    });

    it('keeps a task changed after it was listed (markDirty keeps the object listed)', async () => {
      const store = new JsonFileSyncStateStore(join(dir, 'state.json'));
      await savedTasks(store, 3);
      const state = await loadSyncState(store);
      for (const task of state.allTasks()) {
        task.metaSeq += 50;
        state.markDirty(task);
      }
      state.trim(0);
      await state.saveTo(store);
      assert.deepEqual([...(await loadSyncState(store)).allTasks()].map((t) => t.metaSeq).sort((a, b) => a - b), [50, 51, 52]);
    });

    it('pages from a fresh store too: after the first save, trim forgets what was saved', async () => {
      const store = new JsonFileSyncStateStore(join(dir, 'state.json'));
      const state = await loadSyncState(store);
      state.task('roo-code', asTaskId('a')).metaSeq = 1;
      state.trim(0);
      assert.equal(state.tasksInMemory, 1, 'not saved yet');
      await state.saveTo(store);
      state.trim(0);
      assert.equal(state.tasksInMemory, 0);
      assert.equal(state.getTask('roo-code', 'a')?.metaSeq, 1);
    });

    it('upgrades a state whose header holds its tasks (one file): they are loaded, and the next save gives them files', async () => {
      const path = join(dir, 'state.json');
      await writeFile(path, JSON.stringify(sampleState().toPersisted()));
      const store = new JsonFileSyncStateStore(path);
      const state = await loadSyncState(store);
      assert.equal(state.getTask('roo-code', 't1')?.metaSeq, 7);
      await state.saveTo(store);
      assert.deepEqual(await readdir(join(dir, 'state.json.d')), ['roo-code%2Ft1.json']);
      state.trim(0);
      assert.equal(state.tasksInMemory, 0);
      assert.equal((await loadSyncState(store)).getTask('roo-code', 't1')?.streams.ui.size, 2);
    });

    it('reports a corrupt task file with STORAGE_STATE_CORRUPT when the task is used', async () => {
      const store = new JsonFileSyncStateStore(join(dir, 'state.json'));
      await savedTasks(store, 2);
      await writeFile(join(dir, 'state.json.d', 'roo-code%2Ft1.json'), '{"ui":[');
      const state = await loadSyncState(store);
      assert.equal(state.getTask('roo-code', 't0')?.metaSeq, 0);
      assert.throws(() => state.getTask('roo-code', 't1'), (err: unknown) => isSyncError(err, 'STORAGE_STATE_CORRUPT'));
      await assert.rejects(store.load(), (err: unknown) => isSyncError(err, 'STORAGE_STATE_CORRUPT'));
    });
  });
});
