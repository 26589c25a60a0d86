/**
 * HybridStorage with the real parts: FsTaskStore and FileOutbox on temp folders, the sync state
 * in a JSON file, and RooCloudClient over a real WebSocket to the reference relay's ws host.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asTaskId, asWorkspaceId, type DeviceId } from '../../../core/ids';
import { FsWorkspaceFiles } from '../../../core/node/storage/fs-workspace-files';
import { RooCloudClient } from '../../../core/node/client/roo-cloud-client';
import { FileOutbox } from '../../../core/node/outbox/file-outbox';
import { WsRelayHost } from '../../../core/node/relay/ws-relay-host';
import { JsonFileSyncStateStore } from '../../../core/node/storage/json-file-sync-state-store';
import { FsTaskStore } from '../../../core/node/stores/fs-task-store';
import { ReferenceRelay } from '../../../core/relay/reference-relay';
import { HybridStorage } from '../../../core/storage/hybrid-storage';
import { MemoryBlobStore } from '../../../core/storage/memory-blob-store';
import { generateTaskHistory } from '../../support/task-fixtures';

interface Device {
  storage: HybridStorage;
  store: FsTaskStore;
  close(): Promise<void>;
}

describe('HybridStorage end to end (FsTaskStore, FileOutbox, RooCloudClient, ws relay host)', () => {
  let relay: ReferenceRelay;
  let host: WsRelayHost;
  let dirs: string[] = [];
  const open: Device[] = [];
  const blobs = new MemoryBlobStore();

  before(async () => {
    relay = new ReferenceRelay();
    host = await WsRelayHost.start({ relay });
  });
  after(async () => {
    await host.close();
    relay.close();
  });
  afterEach(async () => {
    for (const device of open.splice(0)) await device.close();
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  async function openDevice(dir: string, deviceId: DeviceId, token: string): Promise<Device> {
    const store = new FsTaskStore({ source: 'roo-code', basePath: join(dir, 'store') });
    await mkdir(join(dir, 'workspace'), { recursive: true });
    const outbox = await FileOutbox.open(join(dir, 'outbox.journal'));
    let storage: HybridStorage | undefined;
    const client = new RooCloudClient({ url: host.url, deviceId, getToken: async () => token, getCursor: () => storage?.cursor ?? 0 });
    const online = new Promise<void>((resolve) => client.onConnected(() => resolve()));
    client.start();
    await online;
    storage = await HybridStorage.open({
      deviceId,
      stores: [store],
      outbox,
      transport: client,
      stateStore: new JsonFileSyncStateStore(join(dir, 'sync-state.json')),
      blobs,
      entryCache: new MemoryBlobStore(),
      workspaces: [new FsWorkspaceFiles({ workspaceId: asWorkspaceId('ws'), root: join(dir, 'workspace') })],
    });
    const device: Device = {
      storage,
      store,
      close: async () => {
        await storage!.close();
        await client.close();
        await outbox.close();
      },
    };
    open.push(device);
    return device;
  }

  it('syncs a task and a workspace file between two devices and stays quiet after a restart', async () => {
    const userId = relay.addUser();
    const creds = [relay.addDevice(userId), relay.addDevice(userId)];
    dirs = [await mkdtemp(join(tmpdir(), 'roo-e2e-a-')), await mkdtemp(join(tmpdir(), 'roo-e2e-b-'))];
    const a = await openDevice(dirs[0]!, creds[0]!.deviceId, creds[0]!.token);
    let b = await openDevice(dirs[1]!, creds[1]!.deviceId, creds[1]!.token);

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
    await b.close();
    open.splice(open.indexOf(b), 1);
    b = await openDevice(dirs[1]!, creds[1]!.deviceId, creds[1]!.token);
    const head = relay.serverCursor(userId);
    assert.equal(b.storage.cursor, head);
    const quiet = await b.storage.syncToCloud();
    assert.equal(quiet.queued, 0);
    assert.equal(relay.serverCursor(userId), head);
    assert.equal((await b.storage.validateDataIntegrity()).ok, true);
  });
});
