import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskStoreWatcher, taskIdOf, toTaskStoreBatch, type TaskStoreBatch } from '../../../core/node/watch/task-store-watcher';
import { BatchRecorder } from './batch-recorder';

describe('TaskStoreWatcher', function () {
  this.timeout(30_000);

  describe('#taskIdOf', () => {
    it('maps files under tasks/<id>/ to the id, and nothing else', () => {
      assert.equal(taskIdOf('tasks/0193f1a2-7c4e-7b8a-9d0e-1f2a3b4c5d6e/ui_messages.json'), '0193f1a2-7c4e-7b8a-9d0e-1f2a3b4c5d6e');
      assert.equal(taskIdOf('tasks/1732000000000/history_item.json'), '1732000000000');
      assert.equal(taskIdOf('tasks/_index.json'), null);
      assert.equal(taskIdOf('tasks/_backup/x.json'), null);
      assert.equal(taskIdOf('tasks/.trash/x.json'), null);
      assert.equal(taskIdOf('settings/custom_modes.yaml'), null);
    });
  });

  describe('#toTaskStoreBatch', () => {
    it('collects distinct task ids from changed and removed files and flags index files', () => {
      const batch = toTaskStoreBatch({
        changed: ['tasks/b/ui_messages.json', 'tasks/a/ui_messages.json', 'tasks/b/api_conversation_history.json'],
        removed: ['tasks/c/task_metadata.json', 'state/taskHistory.json'],
      });
      assert.deepEqual(batch.taskIds, ['a', 'b', 'c']);
      assert.equal(batch.indexChanged, true);
    });
  });

  describe('watching a store', () => {
    let base: string;
    let watcher: TaskStoreWatcher;
    let recorder: BatchRecorder<TaskStoreBatch>;
    const write = (rel: string, text: string) => {
      mkdirSync(join(base, rel, '..'), { recursive: true });
      writeFileSync(join(base, rel), text);
    };

    beforeEach(() => {
      base = mkdtempSync(join(tmpdir(), 'roo-taskstore-'));
      recorder = new BatchRecorder<TaskStoreBatch>();
    });
    afterEach(async () => {
      await watcher.close();
      await watcher.close();
      rmSync(base, { recursive: true, force: true });
    });

    it('reports the existing tasks at start, then the task a write touched', async () => {
      write('tasks/t1/ui_messages.json', '[]');
      write('tasks/t1/history_item.json', '{}');
      write('tasks/t2/api_conversation_history.json', '[]');
      write('tasks/_index.json', '{"version":1}');
      write('settings/mcp_settings.json', '{}');
      watcher = new TaskStoreWatcher(base, { debounceMs: 150, statePath: join(base, '..', `${base.split('/').pop()}.watch.json`) });
      watcher.onBatch(recorder.listener);
      await watcher.start();
      assert.equal(recorder.batches.length, 1);
      assert.deepEqual(recorder.batches[0]!.taskIds, ['t1', 't2']);
      assert.equal(recorder.batches[0]!.indexChanged, true);
      assert.ok(!recorder.batches[0]!.files.changed.some((p) => p.startsWith('settings/')));

      const next = recorder.next();
      write('settings/custom_modes.yaml', 'x: 1');
      write('tasks/t2/checkpoints/.git/HEAD', 'ref');
      write('tasks/t2/.ui_messages.json.new_1732000000000_q1.tmp', '[');
      write('tasks/t2/ui_messages.json', '[{"ts":1}]');
      const batch = await next;
      assert.deepEqual(batch.taskIds, ['t2']);
      assert.equal(batch.indexChanged, false);
      assert.deepEqual(batch.files, { changed: ['tasks/t2/ui_messages.json'], removed: [] });
      rmSync(join(base, '..', `${base.split('/').pop()}.watch.json`), { force: true });
    });

    it('reports nothing for changes outside the task tree', async () => {
      write('tasks/t1/ui_messages.json', '[]');
      watcher = new TaskStoreWatcher(base, { debounceMs: 100 });
      watcher.onBatch(recorder.listener);
      await watcher.start();
      const next = recorder.next();
      write('cache/models.json', '{}');
      write('tasks/_index.json', '{"version":1}');
      const batch = await next;
      assert.deepEqual(batch.taskIds, []);
      assert.equal(batch.indexChanged, true);
    });
  });
});
