/**
 * The waiting log (SyncStateStore.appendWaiting, core/storage/task-defer.ts): records cut short
 * by a crash or a failed write, saves that overlap, and a header naming a task the log lacks.
 */
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asTaskId } from '../../../core/ids';
import { JsonFileSyncStateStore } from '../../../core/node/storage/json-file-sync-state-store';
import type { ServerChange } from '../../../core/model/changes';
import { loadSyncState, MemorySyncStateStore, SyncState, type PersistedSyncState, type SyncStateStore } from '../../../core/storage/sync-state';
import { clearDeferred, deferChanges } from '../../../core/storage/task-defer';

const why = { code: 'STORE_CORRUPT_JSON', path: '/s/tasks/t1/ui_messages.json', reason: 'Unexpected end' };
const meta = (seq: number, taskId = 't1') => ({ seq, deviceId: 'd2', clientSeq: seq, baseSeq: null, entity: `task/roo-code/${taskId}`, body: { type: 'task.meta', source: 'roo-code', taskId, fields: { task: `x${seq}` }, clocks: { task: `0017600000000${String(seq).padStart(2, '0')}-000000-d2` } } }) as unknown as ServerChange;
const seqs = (state: SyncState, key = 'roo-code/t1') => state.waiting.get(key)?.changes.map((c) => c.seq) ?? [];

/** `inner` with its waiting log appended through `appendWaiting` (to fail or hold appends). */
function withAppend(inner: SyncStateStore & { loadPaged(): ReturnType<NonNullable<SyncStateStore['loadPaged']>>; saveChanges: NonNullable<SyncStateStore['saveChanges']> }, appendWaiting: SyncStateStore['appendWaiting']): SyncStateStore {
  return {
    load: () => inner.load(),
    loadPaged: () => inner.loadPaged(),
    save: (s) => inner.save(s),
    saveChanges: (h, t) => inner.saveChanges(h, t),
    appendWaiting,
    loadWaiting: () => inner.loadWaiting(),
    replaceWaiting: (records) => inner.replaceWaiting(records),
  };
}

describe('the waiting log of the sync state (found by a review)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'review7-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a record torn by a crash at the end of the log, then a later append: the state still loads with every waiting change', async () => {
    const path = join(dir, 'state.json');
    const store = new JsonFileSyncStateStore(path);
    const state = await loadSyncState(store);
    state.cursor = 10;
    deferChanges(state, state.task('roo-code', asTaskId('t1')), [meta(11)], why, 'd1');
    state.cursor = 11;
    await state.saveTo(store);
    // A crash (power loss) in the middle of the next append: part of a record, no newline.
    const torn = JSON.stringify({ k: 'roo-code/t1', c: meta(12) });
    await appendFile(`${path}.waiting`, torn.slice(0, 40));
    // Restart: the torn record is left out, as documented.
    const again = await loadSyncState(store);
    assert.deepEqual(seqs(again), [11]);
    // The page is pulled again; the task is still broken.
    deferChanges(again, again.getTask('roo-code', 't1')!, [meta(12)], why, 'd1');
    again.cursor = 12;
    await again.saveTo(store);
    const third = await loadSyncState(store);
    assert.deepEqual(seqs(third), [11, 12]);
  });

  it('an append that fails part-way (ENOSPC) and is retried: the state still loads', async () => {
    const path = join(dir, 'state.json');
    const inner = new JsonFileSyncStateStore(path);
    let fail = false;
    const store = withAppend(inner, async (records) => {
      if (fail) {
        fail = false;
        const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
        await appendFile(`${path}.waiting`, text.slice(0, text.length - 30)); // the disk filled up mid-write
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      }
      return inner.appendWaiting(records);
    });
    const state = await loadSyncState(store);
    deferChanges(state, state.task('roo-code', asTaskId('t1')), [meta(11)], why, 'd1');
    state.cursor = 11;
    await state.saveTo(store);
    deferChanges(state, state.getTask('roo-code', 't1')!, [meta(12)], why, 'd1');
    state.cursor = 12;
    fail = true;
    await assert.rejects(state.saveTo(store));
    await state.saveTo(store); // the retry (waitingAppends restored) succeeds
    const back = await loadSyncState(store);
    assert.deepEqual(seqs(back), [11, 12]);
  });

  it('two saves in flight (migrate pushes while it detects): the header never names a task before its records are durable', async () => {
    const inner = new MemorySyncStateStore();
    let releaseAppend!: (ok: boolean) => void;
    let gate = false;
    const store = withAppend(inner, async (records) => {
      if (gate) {
        gate = false;
        // The append is slow; it never completes (crash) / fails (IO error).
        const ok = await new Promise<boolean>((resolve) => (releaseAppend = resolve));
        if (!ok) throw new Error('EIO');
      }
      return inner.appendWaiting(records);
    });
    const state = await loadSyncState(store);
    // An earlier wait of t1, applied and saved without it.
    deferChanges(state, state.task('roo-code', asTaskId('t1')), [meta(3)], why, 'd1');
    await state.saveTo(store);
    clearDeferred(state, state.getTask('roo-code', 't1')!);
    await state.saveTo(store);
    assert.equal((await loadSyncState(store)).waiting.size, 0);
    // t1 breaks again: a push conflict's current version waits (push-cycle settle).
    deferChanges(state, state.getTask('roo-code', 't1')!, [meta(20)], why, 'd1');
    gate = true;
    const first = state.saveTo(store); // e.g. the detection slice's save: takes the records, appends
    const second = state.saveTo(store); // resolveConflicts' save: it waits for the first one
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal((await loadSyncState(inner)).waiting.size, 0, 'no header names t1 while its records are not durable');
    releaseAppend(false);
    await assert.rejects(first);
    await second; // takes the records the first one gave back, and appends them
    // A crash now (or the reload run() does after the failure):
    const back = await loadSyncState(store);
    assert.deepEqual(seqs(back), [20], 'the waiting change is kept, and the applied list does not come back');
  });

  it('pulls everything again when a header names a waiting task whose changes the log lacks', async () => {
    const store = new MemorySyncStateStore();
    const persisted: PersistedSyncState = { ...new SyncState().toPersisted(), cursor: 50, dw: { 'roo-code/t1': why } };
    await store.save(persisted);
    // e.g. sync-state.json restored without sync-state.json.waiting: the cursor is past those changes.
    const back = await loadSyncState(store);
    assert.equal(back.cursor, 0, 'the next pull starts from the beginning (applying is idempotent)');
    assert.equal(back.waiting.size, 0);
  });
});
