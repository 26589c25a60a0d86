/**
 * Backfill (core/node/backfill) from the real relay on PGlite into local stores: the round
 * trip of a migrated store into an empty one of the same kind and into another assistant's,
 * merging with a newer local copy, dry runs, reruns, and a rollback that leaves the store
 * byte-identical.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TaskReadClient } from '../../../core/client/task-read-client';
import { runBackfill } from '../../../core/node/backfill/run-backfill';
import { rollbackBackfill } from '../../../core/node/backfill/rollback-backfill';
import { planMigration } from '../../../core/node/migrate/migration-plan';
import { runMigration } from '../../../core/node/migrate/run-migration';
import { FsTaskStore } from '../../../core/node/stores/fs-task-store';
import { isSyncError } from '../../../core/errors';
import type { TaskId } from '../../../core/ids';
import type { TaskSource } from '../../../core/model/changes';
import { useDeviceHarness, usePgliteRelay } from '../../support/device-harness';
import { generateStore, type GeneratedStore } from '../../support/store-generator';
import { hashTree } from '../../support/store-hash';
import { createTestUser } from '../../support/sync-relay';
import { createRng } from '../../support/rng';
import { generateApiMessage, generateUiMessage } from '../../support/task-fixtures';

describe('backfill (core/node/backfill)', function () {
  this.timeout(60_000);
  const relay = usePgliteRelay();
  let sourceStore: FsTaskStore;
  const harness = useDeviceHarness(() => relay.syncUrl(), { tempPrefix: 'roo-sync-backfill-', store: () => sourceStore });

  /** A generated store of `source` migrated to the relay; a reader for its user. */
  async function migrated(source: TaskSource, tasks = 8): Promise<{ generated: GeneratedStore; reader: TaskReadClient }> {
    const generated = await generateStore(await harness.tempDir(), { source, seed: 21, tasks });
    sourceStore = new FsTaskStore({ source, basePath: generated.basePath });
    const creds = await relay.newDevice(await createTestUser(relay.db));
    const device = await harness.openDevice(await harness.tempDir(), creds);
    await runMigration({ storage: device.storage, plan: await planMigration([sourceStore]) });
    return { generated, reader: new TaskReadClient(relay.server.url, async () => creds.token) };
  }

  async function emptyStore(source: TaskSource): Promise<FsTaskStore> {
    return new FsTaskStore({ source, basePath: join(await harness.tempDir(), 'globalStorage', 'x') });
  }

  for (const source of ['roo-code', 'zoo-code', 'kilo-code', 'cline'] as const) {
    it(`round-trips every readable ${source} task into an empty ${source} store (messages, HistoryItem, unknown fields)`, async () => {
      const { generated, reader } = await migrated(source);
      const target = await emptyStore(source);
      const result = await runBackfill({ relay: reader, target, journalDir: await harness.tempDir() });
      assert.equal(result.created, generated.readable.length);
      assert.deepEqual(result.failed, []);
      for (const task of generated.readable) {
        const copy = await target.readTask(task.taskId as TaskId);
        assert.deepEqual(copy?.ui, task.ui, task.taskId);
        assert.deepEqual(copy?.api, task.api, task.taskId);
        assert.deepEqual(copy?.historyItem, task.historyItem, task.taskId);
        // A new task's files are the relay's text of the entries as migrate read them: the source's bytes.
        const original = await readFile(sourceStore.taskFiles(task.taskId).ui, 'utf8');
        if (!original.includes('\\u0000')) assert.equal(await readFile(target.taskFiles(task.taskId).ui, 'utf8'), original, task.taskId);
      }
      // The assistant's history lists them: the index (Roo Code, Cline) holds every task.
      if (target.indexPath && source !== 'zoo-code' && source !== 'kilo-code') {
        const text = await readFile(target.indexPath, 'utf8');
        for (const task of generated.readable) assert.ok(text.includes(task.taskId));
      }
    });
  }

  it('maps Roo Code tasks into a Cline store (cwdOnTaskInitialization) and keeps every other field', async () => {
    const { generated, reader } = await migrated('roo-code', 4);
    const target = await emptyStore('cline');
    const result = await runBackfill({ relay: reader, target, journalDir: await harness.tempDir(), from: ['roo-code'] });
    assert.equal(result.created, 4);
    const index = JSON.parse(await readFile(target.indexPath!, 'utf8')) as Array<Record<string, unknown>>;
    for (const task of generated.readable) {
      const item = index.find((i) => i['id'] === task.taskId)!;
      assert.equal(item['cwdOnTaskInitialization'], task.historyItem['workspace']);
      for (const [field, value] of Object.entries(task.historyItem)) assert.deepEqual(item[field], value, field);
    }
  });

  it('--dry-run reports and writes nothing; a rerun changes nothing', async () => {
    const { generated, reader } = await migrated('roo-code', 4);
    const target = await emptyStore('roo-code');
    await mkdir(target.basePath, { recursive: true });
    const before = await hashTree(target.basePath);
    const dry = await runBackfill({ relay: reader, target, journalDir: await harness.tempDir(), dryRun: true });
    assert.equal(dry.created, generated.readable.length);
    assert.equal(await hashTree(target.basePath), before);
    const journalDir = await harness.tempDir();
    await runBackfill({ relay: reader, target, journalDir });
    const again = await runBackfill({ relay: reader, target, journalDir });
    assert.deepEqual([again.created, again.merged, again.unchanged], [0, 0, generated.readable.length]);
  });

  it('keeps the additions of a newer local copy, and --rollback leaves the store byte-identical', async () => {
    const { generated, reader } = await migrated('roo-code', 5);
    // The target already holds two of the tasks, one with messages the relay has not seen.
    const target = await emptyStore('roo-code');
    const [newer, same] = generated.readable;
    const rng = createRng(5);
    const lastTs = Number(newer!.ui[newer!.ui.length - 1]!.ts);
    const extraUi = [generateUiMessage(rng, lastTs + 1000), generateUiMessage(rng, lastTs + 2000)];
    const extraApi = [generateApiMessage(rng, 'user', lastTs + 1000)];
    const newerLocal = { source: 'roo-code' as const, taskId: newer!.taskId as TaskId, ui: [...newer!.ui, ...extraUi], api: [...newer!.api, ...extraApi], historyItem: { ...newer!.historyItem, tokensIn: Number(newer!.historyItem['tokensIn']) + 500, localOnly: 'kept' } };
    await target.writeTask(newerLocal);
    await target.writeTask({ source: 'roo-code', taskId: same!.taskId as TaskId, ui: same!.ui, api: same!.api, historyItem: same!.historyItem });
    const before = await hashTree(target.basePath);
    const journalDir = await harness.tempDir();

    const result = await runBackfill({ relay: reader, target, journalDir });
    assert.deepEqual([result.created, result.unchanged], [generated.readable.length - 2, 2]);
    const after = await target.readTask(newer!.taskId as TaskId);
    assert.deepEqual(after?.ui, newerLocal.ui);
    assert.deepEqual(after?.api, newerLocal.api);
    assert.deepEqual(after?.historyItem, newerLocal.historyItem);

    const rolled = await rollbackBackfill({ target, journalDir });
    assert.equal(rolled.removedTasks, generated.readable.length - 2);
    assert.deepEqual(rolled.keptChanged, []);
    assert.equal(await hashTree(target.basePath), before);
    await assert.rejects(rollbackBackfill({ target, journalDir }), (e: unknown) => isSyncError(e, 'BACKFILL_NOTHING_TO_ROLL_BACK'));
  });

  it('merges an older local copy (adds what the relay has) and rolls the merge back byte for byte', async () => {
    const { generated, reader } = await migrated('roo-code', 3);
    const target = await emptyStore('roo-code');
    const task = generated.readable[0]!;
    const older = { source: 'roo-code' as const, taskId: task.taskId as TaskId, ui: task.ui.slice(0, 2), api: task.api.slice(0, 1), historyItem: { id: task.taskId, ts: task.ui[1]!.ts, task: task.historyItem['task'], number: 1 } };
    await target.writeTask(older);
    const before = await hashTree(target.basePath);
    const journalDir = await harness.tempDir();
    const result = await runBackfill({ relay: reader, target, journalDir });
    assert.equal(result.merged, 1);
    const merged = await target.readTask(task.taskId as TaskId);
    assert.deepEqual(merged?.ui, task.ui);
    assert.deepEqual(merged?.api, task.api);
    assert.equal(merged?.historyItem?.['number'], 1, 'a field the local copy has keeps its local value');
    assert.equal(merged?.historyItem?.['tokensIn'], task.historyItem['tokensIn'], 'fields it lacked come from the relay');
    await rollbackBackfill({ target, journalDir });
    assert.equal(await hashTree(target.basePath), before);
  });

  it('honours a live .lock folder of the assistant: that task fails with STORE_LOCKED, the others are written', async () => {
    const { generated, reader } = await migrated('roo-code', 3);
    const basePath = join(await harness.tempDir(), 'globalStorage', 'x');
    const target = new FsTaskStore({ source: 'roo-code', basePath, lock: { waitMs: 300, pollMs: 20 } });
    const locked = generated.readable[1]!;
    await mkdir(join(target.taskDir(locked.taskId), 'ui_messages.json.lock'), { recursive: true });
    const result = await runBackfill({ relay: reader, target, journalDir: await harness.tempDir() });
    assert.deepEqual(result.failed.map((f) => [f.taskId, f.code]), [[locked.taskId, 'STORE_LOCKED']]);
    assert.equal(result.created, generated.readable.length - 1);
    for (const task of generated.readable) {
      if (task !== locked) assert.deepEqual((await target.readTask(task.taskId as TaskId))?.ui, task.ui);
    }
  });
});
