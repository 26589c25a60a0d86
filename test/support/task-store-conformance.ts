/**
 * The behaviour every TaskStore must have, run against each implementation (the file store
 * in every layout, the in-memory store): `runTaskStoreConformance(name, makeStore)` inside a
 * mocha file.
 */
import assert from 'node:assert/strict';
import { isSyncError } from '../../core/errors';
import { asTaskId, type TaskId } from '../../core/ids';
import type { TaskSnapshot, TaskStore } from '../../core/ports/task-store';
import { generateTaskHistory, generateUiMessage, type TaskIdEra } from './task-fixtures';
import { createRng } from './rng';
import { keyEntries } from '../../core/tracking/stream-keys';

/**
 * A read snapshot without its optional `keyed` entries, after checking that they are what
 * keyEntries gives for the same stream (a store may hand them over to save re-hashing), and
 * without its `read` versions (opaque stamps of the files it came from).
 */
export function withoutKeyed(snapshot: TaskSnapshot | null): TaskSnapshot | null {
  if (!snapshot) return snapshot;
  const { keyed, read: _read, ...rest } = snapshot;
  for (const stream of ['ui', 'api'] as const) {
    if (keyed?.[stream]) assert.deepEqual(keyed[stream], keyEntries(stream, snapshot[stream]), `keyed ${stream} entries`);
  }
  return rest;
}

export interface StoreUnderTest {
  store: TaskStore;
  /** Frees what the store holds (temp folders); called after each test. */
  dispose?: () => Promise<void>;
}

/** A snapshot of a generated task for `store`'s source. */
export function fixtureSnapshot(store: TaskStore, seed: number, options: { era?: TaskIdEra; messages?: number } = {}): TaskSnapshot {
  const generated = generateTaskHistory({
    seed,
    messages: options.messages ?? 30,
    era: options.era ?? 'uuid7',
    historyShape: store.source === 'cline' ? 'cline' : 'roo',
  });
  return { source: store.source, taskId: asTaskId(generated.taskId), ui: generated.ui, api: generated.api, historyItem: generated.historyItem };
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isSyncError(error, code), `expected SyncError ${code}, got ${String(error)}`);
    return true;
  });
}

export function runTaskStoreConformance(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`TaskStore conformance: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: TaskStore;

    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.dispose?.();
    });

    describe('#listTaskIds', () => {
      it('returns no ids for an empty store', async () => {
        assert.deepEqual(await store.listTaskIds(), []);
      });

      it('returns the id of every written task, of every id era', async () => {
        const ids: TaskId[] = [];
        for (const [i, era] of (['timestamp', 'uuid4', 'uuid7'] as const).entries()) {
          const task = fixtureSnapshot(store, 100 + i, { era, messages: 8 });
          await store.writeTask(task);
          ids.push(task.taskId);
        }
        assert.deepEqual([...(await store.listTaskIds())].sort(), [...ids].sort());
      });
    });

    describe('#readTask', () => {
      it('returns null for a task that does not exist', async () => {
        assert.equal(await store.readTask(asTaskId('1700000000000')), null);
      });

      it('returns what was written, entry for entry, in every id era', async () => {
        for (const [i, era] of (['timestamp', 'uuid4', 'uuid7'] as const).entries()) {
          const task = fixtureSnapshot(store, 200 + i, { era });
          await store.writeTask(task);
          assert.deepEqual(withoutKeyed(await store.readTask(task.taskId)), task);
        }
      });

      it('keeps entries that share a ts, in order', async () => {
        const task = fixtureSnapshot(store, 7, { messages: 5 });
        const ts = (task.ui[2] as { ts: number }).ts;
        task.ui.splice(3, 0, { ts, type: 'say', say: 'text', text: 'same millisecond' });
        await store.writeTask(task);
        const read = await store.readTask(task.taskId);
        assert.deepEqual(read?.ui, task.ui);
      });

      it('returns a copy the caller cannot use to change the store', async () => {
        const task = fixtureSnapshot(store, 8, { messages: 5 });
        await store.writeTask(task);
        const first = await store.readTask(task.taskId);
        first!.ui.push({ ts: 1, type: 'say', say: 'text', text: 'not stored' });
        task.api.length = 0;
        const second = await store.readTask(task.taskId);
        assert.equal(second!.ui.length, 5);
        assert.ok(second!.api.length > 0);
      });

      it('rejects a task id that cannot name a folder with STORE_INVALID_TASK_ID', async () => {
        for (const bad of ['../evil', '_index', '.hidden', '', 'a/b', 'x.lock']) {
          await rejectsWithCode(store.readTask(asTaskId(bad)), 'STORE_INVALID_TASK_ID');
        }
      });
    });

    describe('#writeTask', () => {
      it('rebuilds the HistoryItem from the messages when none is given', async () => {
        const task = fixtureSnapshot(store, 9, { messages: 40 });
        const expected = task.historyItem!;
        await store.writeTask({ ...task, historyItem: null });
        const item = (await store.readTask(task.taskId))!.historyItem!;
        assert.equal(item.id, task.taskId);
        assert.equal(item['task'], expected['task']);
        assert.equal(item['ts'], expected['ts']);
        for (const field of ['tokensIn', 'tokensOut', 'cacheWrites', 'cacheReads', 'totalCost']) {
          assert.equal(item[field], expected[field], field);
        }
      });

      it('keeps the stored HistoryItem when a later write gives none', async () => {
        const task = fixtureSnapshot(store, 17, { messages: 10 });
        task.historyItem = { ...task.historyItem!, customTitle: 'kept' };
        await store.writeTask(task);
        await store.writeTask({ ...task, ui: task.ui.slice(0, 5), historyItem: null });
        const read = (await store.readTask(task.taskId))!;
        assert.equal(read.ui.length, 5);
        assert.deepEqual(read.historyItem, task.historyItem);
      });

      it('replaces a task when it is written again with more messages', async () => {
        const task = fixtureSnapshot(store, 10, { messages: 12 });
        await store.writeTask(task);
        const rng = createRng(10);
        const last = task.ui[task.ui.length - 1] as { ts: number };
        const grown = { ...task, ui: [...task.ui, generateUiMessage(rng, last.ts + 1000)] };
        await store.writeTask(grown);
        assert.deepEqual((await store.readTask(task.taskId))!.ui, grown.ui);
      });

      it('passes unknown HistoryItem fields through untouched', async () => {
        const task = fixtureSnapshot(store, 11, { messages: 6 });
        task.historyItem = { ...task.historyItem!, futureField: { nested: [1, 2] }, legacyFlag: true };
        await store.writeTask(task);
        const item = (await store.readTask(task.taskId))!.historyItem!;
        assert.deepEqual(item['futureField'], { nested: [1, 2] });
        assert.equal(item['legacyFlag'], true);
      });

      it('refuses a snapshot of another source with STORE_INVALID_SNAPSHOT', async () => {
        const task = fixtureSnapshot(store, 12, { messages: 4 });
        const other = store.source === 'cline' ? 'roo-code' : 'cline';
        await rejectsWithCode(store.writeTask({ ...task, source: other }), 'STORE_INVALID_SNAPSHOT');
        assert.deepEqual(await store.listTaskIds(), []);
      });

      it('refuses a HistoryItem whose id is not the task id with STORE_INVALID_SNAPSHOT', async () => {
        const task = fixtureSnapshot(store, 13, { messages: 4 });
        await rejectsWithCode(store.writeTask({ ...task, historyItem: { ...task.historyItem!, id: 'other' } }), 'STORE_INVALID_SNAPSHOT');
      });

      it('refuses an unusable task id with STORE_INVALID_TASK_ID', async () => {
        const task = fixtureSnapshot(store, 14, { messages: 4 });
        await rejectsWithCode(store.writeTask({ ...task, taskId: asTaskId('../outside'), historyItem: null }), 'STORE_INVALID_TASK_ID');
      });
    });

    describe('#deleteTask', () => {
      it('removes the task from the listing and from reads', async () => {
        const keep = fixtureSnapshot(store, 15, { messages: 4 });
        const drop = fixtureSnapshot(store, 16, { messages: 4, era: 'timestamp' });
        await store.writeTask(keep);
        await store.writeTask(drop);
        await store.deleteTask(drop.taskId);
        assert.deepEqual(await store.listTaskIds(), [keep.taskId]);
        assert.equal(await store.readTask(drop.taskId), null);
        assert.deepEqual(withoutKeyed(await store.readTask(keep.taskId)), keep);
      });

      it('does nothing for a task that does not exist', async () => {
        await store.deleteTask(asTaskId('1700000000001'));
        assert.deepEqual(await store.listTaskIds(), []);
      });
    });
  });
}
