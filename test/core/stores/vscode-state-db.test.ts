/**
 * The legacy task index in VS Code's state.vscdb (read with sql.js) and FsTaskStore using it
 * when a store has no history_item.json and no index of its own, on stores from the
 * generator (test/support/store-generator.ts).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../../core/errors';
import { discoverTaskStores } from '../../../core/node/stores/discovery';
import { FsTaskStore } from '../../../core/node/stores/fs-task-store';
import { openDiscoveredStore } from '../../../core/node/stores';
import { LegacyStateIndex, readLegacyTaskHistory, stateDbPathFor } from '../../../core/node/stores/vscode-state-db';
import { generateStore, writeStateDb } from '../../support/store-generator';

describe('state.vscdb legacy task index', () => {
  let home: string;

  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'roo-sync-vscdb-'));
  });

  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
  });

  describe('readLegacyTaskHistory', () => {
    it('reads taskHistory under the extension id in any case, and null when the key is absent', async () => {
      const path = join(home, 'state.vscdb');
      await writeStateDb(path, { 'RooVeterinaryInc.roo-cline': JSON.stringify({ taskHistory: [{ id: 'a', ts: 1 }, { nope: true }, { id: 'b', ts: 2 }] }) });
      const items = await readLegacyTaskHistory(path, 'rooveterinaryinc.roo-cline');
      assert.deepEqual(items?.map((i) => i.id), ['a', 'b']);
      assert.equal(await readLegacyTaskHistory(path, 'saoudrizwan.claude-dev'), null);
      assert.equal(await readLegacyTaskHistory(join(home, 'missing.vscdb'), 'x'), null);
    });

    it('opens the file read-only: its bytes do not change', async () => {
      const path = join(home, 'state.vscdb');
      await writeStateDb(path, { 'saoudrizwan.claude-dev': JSON.stringify({ taskHistory: [{ id: 'c' }] }) });
      const before = createHash('sha256').update(await readFile(path)).digest('hex');
      const mtime = (await stat(path)).mtimeMs;
      await readLegacyTaskHistory(path, 'saoudrizwan.claude-dev');
      assert.equal(createHash('sha256').update(await readFile(path)).digest('hex'), before);
      assert.equal((await stat(path)).mtimeMs, mtime);
    });

    it('refuses a file that is not SQLite and a value that is not JSON with STORE_CORRUPT_JSON', async () => {
      const junk = join(home, 'junk.vscdb');
      await writeFile(junk, 'this is not a database at all, just some text that is long enough');
      await assert.rejects(readLegacyTaskHistory(junk, 'x'), (e: unknown) => isSyncError(e, 'STORE_CORRUPT_JSON') && e.details?.['path'] === junk);
      const bad = join(home, 'bad.vscdb');
      await writeStateDb(bad, { 'saoudrizwan.claude-dev': '{"taskHistory": [' });
      await assert.rejects(readLegacyTaskHistory(bad, 'saoudrizwan.claude-dev'), (e: unknown) => isSyncError(e, 'STORE_CORRUPT_JSON'));
    });
  });

  for (const source of ['roo-code', 'cline'] as const) {
    it(`gives every task of a ${source} store whose only index is state.vscdb its HistoryItem (unknown fields kept)`, async () => {
      const generated = await generateStore(home, { source, seed: 7, tasks: 9, index: 'state-vscdb' });
      // Nothing on disk indexes the tasks.
      const names = await readdir(join(generated.basePath, 'tasks', generated.readable[0]!.taskId));
      assert.ok(!names.includes('history_item.json'));
      const found = await discoverTaskStores({ home, platform: 'linux', env: {} });
      const store = openDiscoveredStore(found.stores.find((s) => s.source === source)!);
      const scan = await store.scan({ deep: true });
      for (const task of generated.readable) {
        const scanned = scan.tasks.find((t) => t.taskId === task.taskId);
        assert.equal(scanned?.origin, 'legacy-index', task.taskId);
        assert.deepEqual(scanned.historyItem, task.historyItem);
        assert.deepEqual((await store.readTask(task.taskId as never))?.historyItem, task.historyItem);
      }
      // The damaged tasks are reported with their path, not thrown.
      for (const bad of generated.unreadable) assert.ok(scan.problems.some((p) => p.code === bad.code && p.path === bad.path), bad.path);
    });
  }

  it('is ignored when history_item.json exists, and a corrupt state.vscdb is a scan problem, not an error', async () => {
    const generated = await generateStore(home, { source: 'roo-code', seed: 3, tasks: 3, damage: false });
    const path = stateDbPathFor(generated.userDataDir);
    await writeFile(path, 'garbage garbage garbage garbage garbage garbage garbage garbage garbage');
    const store = new FsTaskStore({ source: 'roo-code', basePath: generated.basePath, legacyIndex: new LegacyStateIndex(path, 'rooveterinaryinc.roo-cline') });
    const scan = await store.scan();
    assert.deepEqual(new Set(scan.tasks.map((t) => t.origin)), new Set(['history_item']));
    assert.ok(scan.problems.some((p) => p.code === 'STORE_CORRUPT_JSON' && p.path === path));
  });
});
