import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../../core/errors';
import { asTaskId } from '../../../core/ids';
import { FsTaskStore } from '../../../core/node/stores/fs-task-store';
import { TASK_STORE_LAYOUTS } from '../../../core/stores/layouts';
import { generateTaskHistory, writeFixtureStore, type GeneratedTask } from '../../support/task-fixtures';
import { withoutKeyed } from '../../support/task-store-conformance';

const ERAS = ['timestamp', 'uuid4', 'uuid7'] as const;

describe('FsTaskStore (reading real-shaped stores)', () => {
  let base: string;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'roo-sync-read-'));
  });
  afterEach(() => rm(base, { recursive: true, force: true }));

  for (const layout of TASK_STORE_LAYOUTS) {
    const shape = layout.kind;
    const tasksOf = (seed: number): GeneratedTask[] =>
      ERAS.map((era, i) => generateTaskHistory({ seed: seed + i, messages: 60, era, images: i === 1, partialLast: i === 2, historyShape: shape }));

    describe(`${layout.displayName} layout`, () => {
      it('reads every task of every id era exactly as the assistant wrote it', async () => {
        const tasks = tasksOf(1);
        await writeFixtureStore(base, shape, tasks);
        const store = new FsTaskStore({ source: layout.source, basePath: base });
        assert.deepEqual(await store.listTaskIds(), tasks.map((t) => t.taskId).sort());
        for (const t of tasks) {
          const read = withoutKeyed(await store.readTask(asTaskId(t.taskId)));
          assert.deepEqual(read, { source: layout.source, taskId: t.taskId, ui: t.ui, api: t.api, historyItem: t.historyItem });
        }
      });

      it('rebuilds the HistoryItem from the messages when no index has it', async () => {
        const tasks = tasksOf(10);
        await writeFixtureStore(base, shape, tasks, { index: false, historyItemFiles: false });
        const store = new FsTaskStore({ source: layout.source, basePath: base });
        const scan = await store.scan();
        assert.deepEqual(scan.problems, []);
        for (const t of tasks) {
          const scanned = scan.tasks.find((s) => s.taskId === t.taskId)!;
          assert.equal(scanned.origin, 'rebuilt');
          for (const f of ['id', 'task', 'ts', 'tokensIn', 'tokensOut', 'cacheWrites', 'cacheReads', 'totalCost']) {
            assert.equal(scanned.historyItem![f], t.historyItem[f], f);
          }
          assert.ok((scanned.historyItem!['size'] as number) > 0);
        }
      });

      it('uses the index entry when the folder has no history_item.json', async () => {
        const tasks = tasksOf(20);
        await writeFixtureStore(base, shape, tasks, { historyItemFiles: false });
        const store = new FsTaskStore({ source: layout.source, basePath: base });
        const scan = await store.scan();
        if (layout.rooIndex === 'never' && layout.kind === 'roo') return;
        assert.deepEqual(new Set(scan.tasks.map((s) => s.origin)), new Set(['index']));
        assert.deepEqual(scan.tasks.find((s) => s.taskId === tasks[0]!.taskId)!.historyItem, tasks[0]!.historyItem);
      });

      it('reads the legacy claude_messages.json when api_conversation_history.json is absent', async () => {
        const [t] = tasksOf(30);
        await writeFixtureStore(base, shape, [t!], { legacyApiName: true });
        const store = new FsTaskStore({ source: layout.source, basePath: base });
        assert.deepEqual((await store.readTask(asTaskId(t!.taskId)))!.api, t!.api);
      });

      it('skips temp files, lock folders, _ and . folders, and ignores leftovers inside a task', async () => {
        const [t] = tasksOf(40);
        await writeFixtureStore(base, shape, [t!]);
        const tasksDir = join(base, 'tasks');
        await mkdir(join(tasksDir, '_backup'));
        await mkdir(join(tasksDir, '.trash'));
        await mkdir(join(tasksDir, '_index.json.lock'));
        await mkdir(join(tasksDir, '1733000000000.lock'));
        await writeFile(join(tasksDir, '._index.json.new_1733_ab12.tmp'), '{"version":1,"entr');
        const dir = join(tasksDir, t!.taskId);
        await writeFile(join(dir, '.ui_messages.json.new_1733000000000_9f8e.tmp'), '[{"ts":1');
        await writeFile(join(dir, '.ui_messages.json.bak_1733000000000_9f8e.tmp'), '[]');
        await mkdir(join(dir, 'ui_messages.json.lock'));
        await mkdir(join(dir, 'checkpoints', '.git'), { recursive: true });
        await mkdir(join(dir, 'command-output'));
        await writeFile(join(dir, 'command-output', 'cmd-1.txt'), 'ok');
        const store = new FsTaskStore({ source: layout.source, basePath: base });
        assert.deepEqual(await store.listTaskIds(), [t!.taskId]);
        assert.deepEqual((await store.readTask(asTaskId(t!.taskId)))!.ui, t!.ui);
        assert.deepEqual((await store.scan({ deep: true })).problems, []);
      });

      it('reports a truncated ui_messages.json with its path and reason, and leaves it as it is', async () => {
        const [good, bad] = tasksOf(50);
        await writeFixtureStore(base, shape, [good!, bad!]);
        const path = join(base, 'tasks', bad!.taskId, 'ui_messages.json');
        const full = await readFile(path, 'utf8');
        const truncated = full.slice(0, Math.floor(full.length * 0.6));
        await writeFile(path, truncated);
        const store = new FsTaskStore({ source: layout.source, basePath: base });
        await assert.rejects(store.readTask(asTaskId(bad!.taskId)), (error: unknown) => {
          assert.ok(isSyncError(error, 'STORE_CORRUPT_JSON'));
          assert.equal(error.details?.['path'], path);
          assert.match(String(error.details?.['reason']), /truncated/);
          return true;
        });
        const scan = await store.scan({ deep: true });
        assert.equal(scan.problems.length, 1);
        assert.equal(scan.problems[0]!.code, 'STORE_CORRUPT_JSON');
        assert.equal(scan.problems[0]!.path, path);
        assert.equal(scan.tasks.length, 2);
        assert.deepEqual((await store.readTask(asTaskId(good!.taskId)))!.ui, good!.ui);
        assert.equal(await readFile(path, 'utf8'), truncated);
      });

      it('reports non-JSON and wrongly shaped files as STORE_CORRUPT_JSON', async () => {
        const [t] = tasksOf(60);
        await writeFixtureStore(base, shape, [t!]);
        const store = new FsTaskStore({ source: layout.source, basePath: base });
        const cases: Array<[string, string, RegExp]> = [
          ['ui_messages.json', '', /empty/],
          ['ui_messages.json', '{"ts":1}', /array/],
          ['api_conversation_history.json', '[{"role":"user"} {"role":"assistant"}]', /invalid JSON/],
          ['api_conversation_history.json', '[{"role":"user","content":"x"}]\u0000\u0000\u0000', /NUL|invalid/],
        ];
        for (const [file, text, reason] of cases) {
          await writeFixtureStore(base, shape, [t!]);
          await writeFile(join(base, 'tasks', t!.taskId, file), text);
          await assert.rejects(store.readTask(asTaskId(t!.taskId)), (error: unknown) => {
            assert.ok(isSyncError(error, 'STORE_CORRUPT_JSON'), `${file}: ${String(error)}`);
            assert.match(String(error.details?.['reason']), reason);
            return true;
          });
        }
      });

      it('reports a corrupt index once in scan and still reads every task', async () => {
        const tasks = tasksOf(70);
        await writeFixtureStore(base, shape, tasks, { historyItemFiles: false });
        const indexPath = shape === 'roo' ? join(base, 'tasks', '_index.json') : join(base, 'state', 'taskHistory.json');
        await writeFile(indexPath, '[{"id":"17');
        const store = new FsTaskStore({ source: layout.source, basePath: base });
        const scan = await store.scan();
        assert.deepEqual(scan.problems.map((p) => [p.code, p.path]), [['STORE_CORRUPT_JSON', indexPath]]);
        assert.deepEqual(new Set(scan.tasks.map((s) => s.origin)), new Set(['rebuilt']));
        assert.equal((await store.readTask(asTaskId(tasks[1]!.taskId)))!.historyItem!['task'], tasks[1]!.historyItem['task']);
      });
    });
  }

  describe('Roo layout', () => {
    it('reports a history_item.json naming another task and falls back to the index', async () => {
      const t = generateTaskHistory({ seed: 80, messages: 20 });
      await writeFixtureStore(base, 'roo', [t]);
      const path = join(base, 'tasks', t.taskId, 'history_item.json');
      await writeFile(path, JSON.stringify({ ...t.historyItem, id: 'someone-else' }));
      const store = new FsTaskStore({ source: 'roo-code', basePath: base });
      const scan = await store.scan();
      assert.deepEqual(scan.problems.map((p) => [p.code, p.path]), [['STORE_HISTORY_ITEM_MISMATCH', path]]);
      assert.equal(scan.tasks[0]!.origin, 'index');
    });

    it('does not list folders that hold only checkpoints (default folder next to a custom path)', async () => {
      const t = generateTaskHistory({ seed: 81, messages: 10 });
      await writeFixtureStore(base, 'roo', [t]);
      await mkdir(join(base, 'tasks', '1733000000000', 'checkpoints', '.git'), { recursive: true });
      await mkdir(join(base, 'tasks', '1733000000001', 'command-output'), { recursive: true });
      const store = new FsTaskStore({ source: 'roo-code', basePath: base });
      assert.deepEqual(await store.listTaskIds(), [t.taskId]);
      assert.equal(await store.readTask(asTaskId('1733000000000')), null);
    });

    it('reports an unreadable file as STORE_IO with its path (thrown by readTask, listed by scan)', async () => {
      const t = generateTaskHistory({ seed: 82, messages: 10 });
      await writeFixtureStore(base, 'roo', [t], { historyItemFiles: false, index: false });
      const path = join(base, 'tasks', t.taskId, 'api_conversation_history.json');
      await rm(path);
      await mkdir(path); // a folder where a file should be: EISDIR on read
      const store = new FsTaskStore({ source: 'roo-code', basePath: base });
      await assert.rejects(store.readTask(asTaskId(t.taskId)), (error: unknown) => isSyncError(error, 'STORE_IO') && error.details?.['path'] === path);
      const scan = await store.scan({ deep: true });
      assert.deepEqual(scan.problems.map((p) => [p.code, p.path]), [['STORE_IO', path]]);
    });

    it('returns null for a task whose folder is gone and an empty list when tasks/ is missing', async () => {
      const store = new FsTaskStore({ source: 'zoo-code', basePath: join(base, 'nothing-here') });
      assert.deepEqual(await store.listTaskIds(), []);
      assert.equal(await store.readTask(asTaskId('1733000000000')), null);
      assert.deepEqual(await store.scan(), { tasks: [], problems: [] });
    });
  });
});
