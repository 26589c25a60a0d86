/**
 * The migration engine (core/node/migrate) through a device's HybridStorage against the real
 * relay on PGlite: plan, streamed upload, resume, read failures, never touching the store, and
 * --verify against the relay's read model.
 */
import assert from 'node:assert/strict';
import { FsTaskStore } from '../../../core/node/stores/fs-task-store';
import { LegacyStateIndex, stateDbPathFor } from '../../../core/node/stores/vscode-state-db';
import { TaskReadClient } from '../../../core/client/task-read-client';
import { planMigration } from '../../../core/node/migrate/migration-plan';
import { runMigration } from '../../../core/node/migrate/run-migration';
import { verifyMigration } from '../../../core/node/migrate/verify-migration';
import { layoutOf } from '../../../core/stores/layouts';
import { useDeviceHarness, usePgliteRelay } from '../../support/device-harness';
import { generateStore, type GeneratedStore } from '../../support/store-generator';
import { rewriteEntryOnRelay } from '../../support/read-model-entries';
import { hashTree } from '../../support/store-hash';
import { createTestUser } from '../../support/sync-relay';

describe('migration (core/node/migrate)', function () {
  this.timeout(60_000);
  const relay = usePgliteRelay();
  let generated: GeneratedStore;
  let store: FsTaskStore;
  const harness = useDeviceHarness(() => relay.syncUrl(), {
    tempPrefix: 'roo-sync-migrate-',
    store: () => store,
  });

  async function setUp(options: { tasks: number; index?: 'files' | 'state-vscdb' } = { tasks: 12 }) {
    const home = await harness.tempDir();
    generated = await generateStore(home, { source: 'roo-code', seed: 11, tasks: options.tasks, index: options.index });
    store = new FsTaskStore({ source: 'roo-code', basePath: generated.basePath, legacyIndex: new LegacyStateIndex(stateDbPathFor(generated.userDataDir), layoutOf('roo-code').extensionId) });
    const userId = await createTestUser(relay.db);
    const creds = await relay.newDevice(userId);
    const device = await harness.openDevice(await harness.tempDir(), creds);
    const reader = new TaskReadClient(relay.server.url, async () => creds.token);
    return { device, creds, reader, userId };
  }

  it('plans stores, tasks, messages and bytes, and lists unreadable tasks with path and code', async () => {
    await setUp();
    const plan = await planMigration([store], { countMessages: true });
    assert.equal(plan.totals.tasks, generated.readable.length + generated.unreadable.length);
    assert.equal(plan.totals.messages, generated.messages);
    assert.ok(plan.totals.bytes >= generated.bytes);
    assert.deepEqual(plan.unreadable.map((u) => [u.path, u.code]).sort(), generated.unreadable.map((u) => [u.path, u.code]).sort());
    const since = await planMigration([store], { since: Math.max(...generated.readable.map((t) => Number(t.historyItem['ts']))) });
    assert.equal(since.tasks.filter((t) => t.ts !== null).length, 1);
  });

  it('uploads slice by slice without touching the store, reports unreadable tasks, and a rerun uploads nothing', async () => {
    const { device, reader } = await setUp({ tasks: 12 });
    const before = await hashTree(generated.basePath);
    const plan = await planMigration([store]);
    let maxQueued = 0;
    const progress: number[] = [];
    const result = await runMigration({
      storage: device.storage,
      plan,
      sliceTasks: 3,
      onProgress: (p) => {
        progress.push(p.tasksDone);
        maxQueued = Math.max(maxQueued, device.outbox.size);
      },
    });
    // A slice is pushed while the next one is detected: the outbox never holds the whole store,
    // and when the last slice is reported pushed nothing is left queued.
    assert.ok(maxQueued < result.queued / 2, `${maxQueued} of ${result.queued} queued at once`);
    assert.equal(device.outbox.size, 0);
    assert.deepEqual(progress, [3, 6, 9, 12, 15]);
    assert.equal(result.accepted, result.queued);
    assert.ok(result.queued >= generated.messages);
    assert.deepEqual(result.unreadable.map((u) => [u.path, u.code]).sort(), generated.unreadable.map((u) => [u.path, u.code]).sort());
    assert.equal(await hashTree(generated.basePath), before, 'the store is unchanged');

    const again = await runMigration({ storage: device.storage, plan: await planMigration([store]) });
    assert.equal(again.queued, 0);
    assert.equal(again.upToDate, true);

    const verified = await verifyMigration({ stores: [store], tasks: plan.tasks, relay: reader });
    assert.equal(verified.checked, generated.readable.length);
    assert.deepEqual(verified.differences, []);
  });

  it('gives the tasks of a store whose only index is state.vscdb their HistoryItems on the relay', async () => {
    const { device, reader } = await setUp({ tasks: 4, index: 'state-vscdb' });
    await runMigration({ storage: device.storage, plan: await planMigration([store]) });
    for (const task of generated.readable) {
      const meta = (await reader.task('roo-code', task.taskId)).meta;
      assert.equal(meta['task'], task.historyItem['task']);
      assert.equal(meta['number'], task.historyItem['number']);
    }
  });

  it('--verify lists a message changed on the relay behind its back', async () => {
    const { device, reader } = await setUp({ tasks: 3 });
    const plan = await planMigration([store]);
    await runMigration({ storage: device.storage, plan });
    assert.deepEqual((await verifyMigration({ stores: [store], tasks: plan.tasks, relay: reader })).differences, []);
    const task = generated.readable[1]!;
    const changed = { ...task.ui[1], text: 'edited on the relay' };
    await rewriteEntryOnRelay(relay.db, { taskId: task.taskId, stream: 'ui', key: `${task.ui[1]!.ts}:0` }, changed);
    const verified = await verifyMigration({ stores: [store], tasks: plan.tasks, relay: reader, attempts: 1 });
    assert.deepEqual(
      verified.differences.map((d) => [d.taskId, d.kind, d.part, d.key]),
      [[task.taskId, 'content-differs', 'ui', `${task.ui[1]!.ts}:0`]],
    );
  });
});
