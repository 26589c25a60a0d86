import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../../core/errors';
import { asTaskId } from '../../../core/ids';
import { FsTaskStore } from '../../../core/node/stores';
import { keyEntries } from '../../../core/tracking/stream-keys';
import { createRng } from '../../support/rng';
import { generateTaskHistory, generateUiMessage, writeFixtureStore } from '../../support/task-fixtures';

describe('FsTaskStore', () => {
  describe('#readTask keyed entries', () => {
    let base: string;
    beforeEach(async () => {
      base = await mkdtemp(join(tmpdir(), 'roo-keyed-'));
    });
    afterEach(async () => {
      await rm(base, { recursive: true, force: true });
    });

    it('gives the keys and hashes keyEntries would, before and after an append and a rewrite', async () => {
      const task = generateTaskHistory({ seed: 7, messages: 60 });
      await writeFixtureStore(base, 'roo', [task]);
      const store = new FsTaskStore({ source: 'roo-code', basePath: base });
      const id = asTaskId(task.taskId);
      const uiPath = join(base, 'tasks', task.taskId, 'ui_messages.json');

      const check = async () => {
        const snapshot = (await store.readTask(id))!;
        assert.deepEqual(snapshot.keyed?.ui, keyEntries('ui', snapshot.ui));
        assert.deepEqual(snapshot.keyed?.api, keyEntries('api', snapshot.api));
        return snapshot;
      };
      await check();

      const appended = [...task.ui, generateUiMessage(createRng(1), 9_999_999_999_999)];
      await writeFile(uiPath, JSON.stringify(appended));
      assert.equal((await check()).ui.length, task.ui.length + 1);

      // An edit in the middle (not an append) must not reuse stale hashes.
      const edited = appended.map((m, i) => (i === 3 ? { ...(m as object), text: 'edited in place' } : m));
      await writeFile(uiPath, JSON.stringify(edited));
      assert.equal(((await check()).ui[3] as { text: string }).text, 'edited in place');
    });

    it('still reports a corrupt stream file with STORE_CORRUPT_JSON and its path', async () => {
      const task = generateTaskHistory({ seed: 8, messages: 10 });
      await writeFixtureStore(base, 'roo', [task]);
      const store = new FsTaskStore({ source: 'roo-code', basePath: base });
      const uiPath = join(base, 'tasks', task.taskId, 'ui_messages.json');
      await store.readTask(asTaskId(task.taskId));
      await writeFile(uiPath, JSON.stringify(task.ui).slice(0, -20));
      await assert.rejects(store.readTask(asTaskId(task.taskId)), (err: unknown) => {
        assert.ok(isSyncError(err, 'STORE_CORRUPT_JSON'));
        assert.equal(err.details?.['path'], uiPath);
        return true;
      });
    });
  });
});
