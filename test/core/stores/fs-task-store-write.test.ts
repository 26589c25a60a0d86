import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../../core/errors';
import { asTaskId } from '../../../core/ids';
import type { TaskSnapshot } from '../../../core/ports/task-store';
import { FsTaskStore } from '../../../core/node/stores/fs-task-store';
import type { TaskSource } from '../../../core/model/changes';
import { generateTaskHistory, writeFixtureStore, type GeneratedTask } from '../../support/task-fixtures';

const NOW = Date.UTC(2026, 10, 26, 8, 0, 0);

function snapshotOf(source: TaskSource, t: GeneratedTask): TaskSnapshot {
  return { source, taskId: asTaskId(t.taskId), ui: t.ui, api: t.api, historyItem: t.historyItem };
}

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8'));
}

async function inode(path: string): Promise<number> {
  return (await stat(path)).ino;
}

describe('FsTaskStore (writing)', () => {
  let base: string;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'roo-sync-write-'));
  });
  afterEach(() => rm(base, { recursive: true, force: true }));

  describe('#writeTask in the Roo Code layout', () => {
    it('writes compact JSON, history_item.json and a sorted _index.json, keeping other entries', async () => {
      const old = generateTaskHistory({ seed: 1, messages: 10, era: 'timestamp' });
      const newer = generateTaskHistory({ seed: 2, messages: 10, era: 'uuid7' });
      await writeFixtureStore(base, 'roo', [old]);
      const store = new FsTaskStore({ source: 'roo-code', basePath: base, now: () => NOW });
      await store.writeTask(snapshotOf('roo-code', newer));
      const dir = join(base, 'tasks', newer.taskId);
      assert.equal(await readFile(join(dir, 'ui_messages.json'), 'utf8'), JSON.stringify(newer.ui));
      assert.equal(await readFile(join(dir, 'api_conversation_history.json'), 'utf8'), JSON.stringify(newer.api));
      assert.deepEqual(await readJson(join(dir, 'history_item.json')), newer.historyItem);
      const index = (await readJson(join(base, 'tasks', '_index.json'))) as { version: number; updatedAt: number; entries: Array<{ id: string }> };
      assert.equal(index.version, 1);
      assert.equal(index.updatedAt, NOW);
      assert.deepEqual(index.entries.map((e) => e.id), [newer.taskId, old.taskId]);
      assert.deepEqual(index.entries[1], old.historyItem);
    });

    it('replaces the task entry in _index.json and re-sorts it when the task moves', async () => {
      const a = generateTaskHistory({ seed: 3, messages: 8, era: 'uuid4' });
      const b = generateTaskHistory({ seed: 4, messages: 8, era: 'uuid7' });
      await writeFixtureStore(base, 'roo', [a, b]);
      const store = new FsTaskStore({ source: 'roo-code', basePath: base, now: () => NOW });
      const moved = { ...a.historyItem, ts: NOW, task: 'renamed' };
      await store.writeTask({ ...snapshotOf('roo-code', a), historyItem: moved });
      const index = (await readJson(join(base, 'tasks', '_index.json'))) as { entries: Array<Record<string, unknown>> };
      assert.deepEqual(index.entries, [moved, b.historyItem]);
    });

    it('rewrites only the files that changed', async () => {
      const t = generateTaskHistory({ seed: 5, messages: 30 });
      const store = new FsTaskStore({ source: 'roo-code', basePath: base, now: () => NOW });
      await store.writeTask(snapshotOf('roo-code', t));
      const dir = join(base, 'tasks', t.taskId);
      const files = ['ui_messages.json', 'api_conversation_history.json', 'history_item.json', '../_index.json'];
      const before = await Promise.all(files.map((f) => inode(join(dir, f))));
      await store.writeTask(snapshotOf('roo-code', t));
      assert.deepEqual(await Promise.all(files.map((f) => inode(join(dir, f)))), before);
      const grown = { ...snapshotOf('roo-code', t), ui: [...t.ui, { ts: 9e12, type: 'say', say: 'text', text: 'one more' }] };
      await store.writeTask(grown);
      const after = await Promise.all(files.map((f) => inode(join(dir, f))));
      assert.notEqual(after[0], before[0]);
      assert.deepEqual(after.slice(1), before.slice(1));
    });

    it('leaves no temp files or lock folders behind', async () => {
      const t = generateTaskHistory({ seed: 6, messages: 10 });
      const store = new FsTaskStore({ source: 'roo-code', basePath: base });
      await store.writeTask(snapshotOf('roo-code', t));
      assert.deepEqual((await readdir(join(base, 'tasks', t.taskId))).sort(), ['api_conversation_history.json', 'history_item.json', 'ui_messages.json']);
      assert.deepEqual((await readdir(join(base, 'tasks'))).sort(), ['_index.json', t.taskId].sort());
    });

    it('keeps a corrupt ui_messages.json beside the new one instead of losing it', async () => {
      const t = generateTaskHistory({ seed: 7, messages: 10 });
      await writeFixtureStore(base, 'roo', [t]);
      const path = join(base, 'tasks', t.taskId, 'ui_messages.json');
      await writeFile(path, '[{"ts":1,"type":"say"');
      const store = new FsTaskStore({ source: 'roo-code', basePath: base, now: () => NOW });
      await store.writeTask(snapshotOf('roo-code', t));
      assert.deepEqual(await readJson(path), t.ui);
      assert.equal(await readFile(`${path}.corrupt-${NOW}`, 'utf8'), '[{"ts":1,"type":"say"');
    });

    it('leaves a corrupt _index.json untouched and still writes the task', async () => {
      const t = generateTaskHistory({ seed: 8, messages: 10 });
      await mkdir(join(base, 'tasks'), { recursive: true });
      await writeFile(join(base, 'tasks', '_index.json'), '{"version":1,"entries":[');
      const store = new FsTaskStore({ source: 'roo-code', basePath: base });
      await store.writeTask(snapshotOf('roo-code', t));
      assert.equal(await readFile(join(base, 'tasks', '_index.json'), 'utf8'), '{"version":1,"entries":[');
      assert.deepEqual((await store.readTask(asTaskId(t.taskId)))!.historyItem, t.historyItem);
    });
  });

  for (const source of ['zoo-code', 'kilo-code'] as const) {
    describe(`#writeTask in the ${source} layout`, () => {
      it('does not create _index.json but updates one that exists', async () => {
        const a = generateTaskHistory({ seed: 9, messages: 8 });
        const store = new FsTaskStore({ source, basePath: base, now: () => NOW });
        await store.writeTask(snapshotOf(source, a));
        await assert.rejects(stat(join(base, 'tasks', '_index.json')), { code: 'ENOENT' });
        assert.deepEqual(await readJson(join(base, 'tasks', a.taskId, 'history_item.json')), a.historyItem);
        await writeFile(join(base, 'tasks', '_index.json'), JSON.stringify({ version: 1, updatedAt: 1, entries: [] }));
        await store.writeTask({ ...snapshotOf(source, a), historyItem: { ...a.historyItem, task: 'edited' } });
        const index = (await readJson(join(base, 'tasks', '_index.json'))) as { entries: Array<Record<string, unknown>> };
        assert.deepEqual(index.entries.map((e) => e['task']), ['edited']);
      });
    });
  }

  describe('#writeTask in the Cline layout', () => {
    it('updates state/taskHistory.json in place, appends new tasks, writes no history_item.json', async () => {
      const [a, b, c] = [10, 11, 12].map((seed) => generateTaskHistory({ seed, messages: 8, era: 'timestamp', historyShape: 'cline' }));
      await writeFixtureStore(base, 'cline', [a!, b!]);
      const store = new FsTaskStore({ source: 'cline', basePath: base });
      const edited = { ...a!.historyItem, isFavorited: true };
      await store.writeTask({ ...snapshotOf('cline', a!), historyItem: edited });
      await store.writeTask(snapshotOf('cline', c!));
      assert.deepEqual(await readJson(join(base, 'state', 'taskHistory.json')), [edited, b!.historyItem, c!.historyItem]);
      await assert.rejects(stat(join(base, 'tasks', c!.taskId, 'history_item.json')), { code: 'ENOENT' });
    });

    it('refuses to write or delete when taskHistory.json is corrupt, and touches nothing', async () => {
      const [a, b] = [13, 14].map((seed) => generateTaskHistory({ seed, messages: 8, historyShape: 'cline' }));
      await writeFixtureStore(base, 'cline', [a!]);
      const indexPath = join(base, 'state', 'taskHistory.json');
      await writeFile(indexPath, '[{"id":"1733');
      const store = new FsTaskStore({ source: 'cline', basePath: base });
      for (const attempt of [() => store.writeTask(snapshotOf('cline', b!)), () => store.deleteTask(asTaskId(a!.taskId))]) {
        await assert.rejects(attempt(), (error: unknown) => isSyncError(error, 'STORE_CORRUPT_JSON') && error.details?.['path'] === indexPath);
      }
      assert.equal(await readFile(indexPath, 'utf8'), '[{"id":"1733');
      assert.deepEqual(await store.listTaskIds(), [a!.taskId]);
    });
  });

  describe('#writeTask with locks', () => {
    it('waits for a live lock and fails with STORE_LOCKED, leaving the file as it was', async () => {
      const t = generateTaskHistory({ seed: 15, messages: 8 });
      await writeFixtureStore(base, 'roo', [t]);
      const path = join(base, 'tasks', t.taskId, 'ui_messages.json');
      await mkdir(`${path}.lock`);
      const store = new FsTaskStore({ source: 'roo-code', basePath: base, lock: { waitMs: 200, pollMs: 20 } });
      const started = Date.now();
      const grown = { ...snapshotOf('roo-code', t), ui: [...t.ui, { ts: 9e12, type: 'say', say: 'text', text: 'more' }] };
      await assert.rejects(store.writeTask(grown), (error: unknown) => isSyncError(error, 'STORE_LOCKED') && error.details?.['path'] === path);
      assert.ok(Date.now() - started >= 200, 'waited for the lock');
      assert.deepEqual(await readJson(path), t.ui);
      assert.ok((await stat(`${path}.lock`)).isDirectory(), 'the live lock is not ours to remove');
    });

    it('writes as soon as the assistant releases its lock', async () => {
      const t = generateTaskHistory({ seed: 16, messages: 8 });
      await writeFixtureStore(base, 'roo', [t]);
      const path = join(base, 'tasks', t.taskId, 'ui_messages.json');
      await mkdir(`${path}.lock`);
      const store = new FsTaskStore({ source: 'roo-code', basePath: base, lock: { waitMs: 10_000, pollMs: 10 } });
      const grown = { ...snapshotOf('roo-code', t), ui: [...t.ui, { ts: 9e12, type: 'say', say: 'text', text: 'more' }] };
      const writing = store.writeTask(grown);
      let done = false;
      void writing.then(() => (done = true), () => (done = true));
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(done, false, 'still waiting while the lock is held');
      await rm(`${path}.lock`, { recursive: true });
      await writing;
      assert.deepEqual(await readJson(path), grown.ui);
    });

    it('takes over a stale lock (older than 31 s)', async () => {
      const t = generateTaskHistory({ seed: 17, messages: 8 });
      await writeFixtureStore(base, 'roo', [t]);
      const path = join(base, 'tasks', t.taskId, 'ui_messages.json');
      await mkdir(`${path}.lock`);
      const old = new Date(Date.now() - 45_000);
      await utimes(`${path}.lock`, old, old);
      const store = new FsTaskStore({ source: 'roo-code', basePath: base, lock: { waitMs: 200 } });
      const grown = { ...snapshotOf('roo-code', t), ui: [...t.ui, { ts: 9e12, type: 'say', say: 'text', text: 'more' }] };
      await store.writeTask(grown);
      assert.deepEqual(await readJson(path), grown.ui);
      await assert.rejects(stat(`${path}.lock`), { code: 'ENOENT' });
    });
  });

  describe('#writeTask from several writers at once', () => {
    it('loses no index entry when two stores (two windows) write different tasks concurrently', async () => {
      for (const [source, shape] of [['roo-code', 'roo'], ['cline', 'cline']] as const) {
        const dir = join(base, source);
        const windows = [0, 1].map(() => new FsTaskStore({ source, basePath: dir, lock: { pollMs: 5 } }));
        const tasks = Array.from({ length: 12 }, (_, i) => generateTaskHistory({ seed: 100 + i, messages: 6, historyShape: shape }));
        await Promise.all(tasks.map((t, i) => windows[i % 2]!.writeTask(snapshotOf(source, t))));
        const entries = (shape === 'roo' ? ((await readJson(join(dir, 'tasks', '_index.json'))) as { entries: Array<{ id: string }> }).entries : ((await readJson(join(dir, 'state', 'taskHistory.json'))) as Array<{ id: string }>));
        assert.deepEqual(entries.map((e) => e.id).sort(), tasks.map((t) => t.taskId).sort(), source);
      }
    });
  });

  describe('#writeTasks with the files\' JSON text (TaskFilesJson)', () => {
    const text = (value: unknown, spacing?: number) => new TextEncoder().encode(JSON.stringify(value, null, spacing));

    it('writes the text as it is, history_item.json and the index, and the store reads the task back', async () => {
      const [t, u] = [20, 21].map((seed) => generateTaskHistory({ seed, messages: 8 }));
      const store = new FsTaskStore({ source: 'roo-code', basePath: base, now: () => NOW });
      // Spaced text stays spaced: nothing is parsed or serialised again.
      const ui = text(t!.ui, 1);
      const { failed, bytes } = await store.writeTasks([
        { kind: 'files-json', source: 'roo-code', taskId: asTaskId(t!.taskId), ui: { json: ui }, api: { json: text(t!.api) }, historyItem: t!.historyItem },
        snapshotOf('roo-code', u!),
      ]);
      assert.deepEqual(failed, []);
      const dir = join(base, 'tasks', t!.taskId);
      assert.deepEqual(await readFile(join(dir, 'ui_messages.json')), Buffer.from(ui));
      assert.equal(await readFile(join(dir, 'api_conversation_history.json'), 'utf8'), JSON.stringify(t!.api));
      assert.deepEqual(await readJson(join(dir, 'history_item.json')), t!.historyItem);
      assert.equal(bytes, ui.length + Buffer.byteLength(JSON.stringify(t!.api)) + Buffer.byteLength(JSON.stringify(u!.ui)) + Buffer.byteLength(JSON.stringify(u!.api)));
      const index = (await readJson(join(base, 'tasks', '_index.json'))) as { entries: Array<{ id: string }> };
      assert.deepEqual(index.entries.map((e) => e.id).sort(), [t!.taskId, u!.taskId].sort());
      const back = await store.readTask(asTaskId(t!.taskId));
      assert.deepEqual([back?.ui, back?.api], [t!.ui, t!.api]);
    });

    it('keeps a corrupt file in the way beside it, and refuses text that is not a JSON array with STORE_INVALID_SNAPSHOT', async () => {
      const t = generateTaskHistory({ seed: 22, messages: 8 });
      const store = new FsTaskStore({ source: 'roo-code', basePath: base, now: () => NOW });
      const dir = join(base, 'tasks', t.taskId);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'ui_messages.json'), '[{"ts":1');
      const files = { kind: 'files-json' as const, source: 'roo-code' as const, taskId: asTaskId(t.taskId), ui: { json: text(t.ui) }, api: { json: text(t.api) }, historyItem: t.historyItem };
      assert.deepEqual((await store.writeTasks([files])).failed, []);
      assert.deepEqual(await readJson(join(dir, 'ui_messages.json')), t.ui);
      assert.equal(await readFile(join(dir, `ui_messages.json.corrupt-${NOW}`), 'utf8'), '[{"ts":1');

      for (const bad of [new TextEncoder().encode('{"a":1}'), new Uint8Array(0), new TextEncoder().encode(' []')]) {
        await assert.rejects(store.writeTasks([{ ...files, api: { json: bad } }]), (error: unknown) => isSyncError(error, 'STORE_INVALID_SNAPSHOT'));
      }
      await assert.rejects(store.writeTasks([{ ...files, source: 'cline' }]), (error: unknown) => isSyncError(error, 'STORE_INVALID_SNAPSHOT'));
      assert.equal(await readFile(join(dir, 'api_conversation_history.json'), 'utf8'), JSON.stringify(t.api), 'nothing written by a refused call');
    });
  });

  describe('#taskFiles / #indexPath', () => {
    it('names the files a watcher should follow in each layout', () => {
      const roo = new FsTaskStore({ source: 'roo-code', basePath: base });
      const files = roo.taskFiles('1733000000000');
      assert.equal(files.ui, join(base, 'tasks', '1733000000000', 'ui_messages.json'));
      assert.equal(files.historyItem, join(base, 'tasks', '1733000000000', 'history_item.json'));
      assert.equal(roo.indexPath, join(base, 'tasks', '_index.json'));
      const cline = new FsTaskStore({ source: 'cline', basePath: base });
      assert.equal(cline.taskFiles('1733000000000').historyItem, null);
      assert.equal(cline.indexPath, join(base, 'state', 'taskHistory.json'));
    });
  });

  describe('#deleteTask', () => {
    it('removes the folder and the _index.json entry (Roo) or the taskHistory.json entry (Cline)', async () => {
      for (const [source, shape] of [['roo-code', 'roo'], ['cline', 'cline']] as const) {
        const dir = join(base, source);
        const [a, b] = [18, 19].map((seed) => generateTaskHistory({ seed, messages: 8, historyShape: shape }));
        await writeFixtureStore(dir, shape, [a!, b!]);
        const store = new FsTaskStore({ source, basePath: dir });
        await store.deleteTask(asTaskId(a!.taskId));
        await assert.rejects(stat(join(dir, 'tasks', a!.taskId)), { code: 'ENOENT' });
        const entries = shape === 'roo' ? ((await readJson(join(dir, 'tasks', '_index.json'))) as { entries: unknown[] }).entries : await readJson(join(dir, 'state', 'taskHistory.json'));
        assert.deepEqual(entries, [b!.historyItem]);
      }
    });
  });
});
