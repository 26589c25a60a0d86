/**
 * HybridStorage with the real parts: FsTaskStore and FileOutbox on temp folders, the sync state
 * in a JSON file, and RooCloudClient over a real WebSocket to the reference relay's ws host.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { asTaskId } from '../../../core/ids';
import { MemoryBlobStore } from '../../../core/storage/memory-blob-store';
import { useDeviceHarness, useReferenceRelayHost } from '../../support/device-harness';
import { generateTaskHistory } from '../../support/task-fixtures';
import { withoutKeyed } from '../../support/task-store-conformance';

describe('HybridStorage end to end (FsTaskStore, FileOutbox, RooCloudClient, ws relay host)', () => {
  const host = useReferenceRelayHost();
  // The client is not handed the outbox: HybridStorage alone pushes it.
  const devices = useDeviceHarness(() => host.url, { tempPrefix: 'roo-e2e-', workspace: true, blobs: new MemoryBlobStore(), clientOutbox: false });

  it('syncs a task and a workspace file between two devices and stays quiet after a restart', async () => {
    const userId = host.relay.addUser();
    const creds = [host.relay.addDevice(userId), host.relay.addDevice(userId)];
    const dirs = [await devices.tempDir(), await devices.tempDir()];
    const a = await devices.openDevice(dirs[0]!, creds[0]!);
    let b = await devices.openDevice(dirs[1]!, creds[1]!);

    await mkdir(join(dirs[0]!, 'workspace', 'src'), { recursive: true });
    await writeFile(join(dirs[0]!, 'workspace', 'src', 'main.ts'), 'export const x = 1;\n');
    const fixture = generateTaskHistory({ seed: 7, messages: 40 });
    const taskId = asTaskId(fixture.taskId);
    await a.store.writeTask({ source: 'roo-code', taskId, ui: fixture.ui, api: fixture.api, historyItem: fixture.historyItem });
    const pushed = await a.storage.syncToCloud();
    assert.equal(pushed.accepted, pushed.queued);
    assert.ok(pushed.queued > 40);

    await b.storage.syncFromCloud();
    assert.deepEqual(withoutKeyed(await b.store.readTask(taskId)), withoutKeyed(await a.store.readTask(taskId)));
    assert.equal(await readFile(join(dirs[1]!, 'workspace', 'src', 'main.ts'), 'utf8'), 'export const x = 1;\n');

    const more = [...fixture.ui, { ts: (fixture.ui.at(-1) as { ts: number }).ts + 10, type: 'say', say: 'text', text: 'one more' }];
    await a.storage.saveMessages('roo-code', taskId, 'ui', more);
    const appended = await a.storage.syncToCloud();
    assert.equal(appended.accepted, 1);
    await b.storage.syncFromCloud();
    assert.deepEqual((await b.store.readTask(taskId))?.ui, more);

    // Restart b from its folders: it remembers what it synced and sends nothing back.
    b = await devices.reopen(b);
    const head = host.relay.serverCursor(userId);
    assert.equal(b.storage.cursor, head);
    const quiet = await b.storage.syncToCloud();
    assert.equal(quiet.queued, 0);
    assert.equal(host.relay.serverCursor(userId), head);
    assert.equal((await b.storage.validateDataIntegrity()).ok, true);
  });

  it('keeps a concurrent append of the other device as a conflict copy task both stores list', async () => {
    const userId = host.relay.addUser();
    const creds = [host.relay.addDevice(userId), host.relay.addDevice(userId)];
    const a = await devices.openDevice(await devices.tempDir(), creds[0]!);
    const b = await devices.openDevice(await devices.tempDir(), creds[1]!);
    const taskId = asTaskId('0191e6b2-1c2d-7a3b-8c4d-5e6f7a8b9c0d');
    const say = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });
    const api = (role: string, text: string) => ({ role, content: [{ type: 'text', text }] });
    const historyItem = { id: taskId, number: 3, ts: 1000, task: 'port the parser', tokensIn: 0, tokensOut: 0, totalCost: 0 };
    await a.store.writeTask({ source: 'roo-code', taskId, ui: [say(1000, 'port the parser')], api: [api('user', 'port the parser')], historyItem });
    await a.storage.syncToCloud();
    await b.storage.syncFromCloud();
    // Both continue the task without seeing each other: both put api position 1.
    for (const [device, text] of [[a, 'a: plan A'], [b, 'b: plan B']] as const) {
      const task = (await device.store.readTask(taskId))!;
      await device.store.writeTask({ ...task, ui: [...task.ui, say(device === a ? 2000 : 3000, text)], api: [...task.api, api('assistant', text)] });
      await device.storage.syncToCloud();
    }
    await a.storage.syncFromCloud(); // b's later put displaces a's entry: a keeps its version as a copy
    await a.storage.syncToCloud();
    await b.storage.syncFromCloud();

    for (const device of [a, b]) {
      const scan = await device.store.scan();
      assert.equal(scan.tasks.length, 2, 'the task and its copy');
      const copy = scan.tasks.find((t) => t.taskId !== taskId)!;
      assert.match(copy.taskId, /^0191e6b2-1c2d-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID v7 with the original time');
      assert.match(String(copy.historyItem?.task), new RegExp(`^\\[conflict copy ${a.creds.deviceId} \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC\\] port the parser$`));
      assert.equal(copy.origin, 'history_item');
      const kept = (await device.store.readTask(copy.taskId))!;
      assert.deepEqual(kept.api, [api('user', 'port the parser'), api('assistant', 'a: plan A')]);
      assert.deepEqual((await device.store.readTask(taskId))!.api, [api('user', 'port the parser'), api('assistant', 'b: plan B')]);
      assert.equal((await device.storage.validateDataIntegrity()).ok, true);
    }
    const index = JSON.parse(await readFile(join(b.dir, 'store', 'tasks', '_index.json'), 'utf8')) as { entries: Array<{ id: string }> };
    assert.equal(index.entries.length, 2, 'the copy is in the index the history list reads');
  });
});
