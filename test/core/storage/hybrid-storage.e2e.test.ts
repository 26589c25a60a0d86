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
    assert.deepEqual(await b.store.readTask(taskId), await a.store.readTask(taskId));
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
});
