/**
 * Regression: changes still queued in an outbox journal that was lost were tracked as sent by
 * the sync state and never reached the relay. On the real relay (startRelayServer on PGlite,
 * WebSocket on port 0) with the device's real parts on temp folders (FsTaskStore, FileOutbox,
 * the JSON sync state, RooCloudClient, HybridStorage): the reopened device queues them again,
 * and sending again what the relay already stored (its ack lost with the journal) is harmless.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../../core/errors';
import { asDeviceId, asTaskId, type DeviceId } from '../../../core/ids';
import { RooCloudClient } from '../../../core/node/client/roo-cloud-client';
import { FileOutbox } from '../../../core/node/outbox/file-outbox';
import { JsonFileSyncStateStore } from '../../../core/node/storage/json-file-sync-state-store';
import { FsTaskStore } from '../../../core/node/stores/fs-task-store';
import { HybridStorage } from '../../../core/storage/hybrid-storage';
import { MemoryBlobStore } from '../../../core/storage/memory-blob-store';
import type { RelayServer } from '../../../server/relay-server';
import { waitUntil } from '../../core/client/client-harness';
import { useMigratedPglite } from '../../support/pglite';
import { createTestDevice, createTestUser } from '../../support/sync-relay';
import { startTestRelay } from '../http/relay-fixture';

interface Creds {
  deviceId: DeviceId;
  token: string;
}

interface Device {
  storage: HybridStorage;
  store: FsTaskStore;
  outbox: FileOutbox;
  client: RooCloudClient;
  close(): Promise<void>;
}

const TASK = asTaskId('1760000000000');
const say = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });

describe('a device whose lost outbox journal still held changes, on the real relay (PGlite)', function () {
  this.timeout(20_000);
  const db = useMigratedPglite();
  let relay: RelayServer;
  const dirs: string[] = [];
  const closers: Array<() => Promise<void>> = [];

  before(async () => {
    relay = await startTestRelay(db());
  });
  after(async () => {
    await relay?.close();
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  const syncUrl = (): string => `${relay.url.replace(/^http/, 'ws')}/v1/sync`;

  async function newDevice(userId: string): Promise<Creds> {
    const { deviceId, token } = await createTestDevice(relay.db, userId);
    return { deviceId: asDeviceId(deviceId), token };
  }

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'roo-outbox-recovery-'));
    dirs.push(dir);
    return dir;
  }

  /** The device in `dir`; online: its client is welcomed (the outbox anchored) before HybridStorage opens. */
  async function openDevice(dir: string, creds: Creds, online: boolean): Promise<Device> {
    const store = new FsTaskStore({ source: 'roo-code', basePath: join(dir, 'store') });
    const outbox = await FileOutbox.open(join(dir, 'state', 'outbox.journal'));
    let storage: HybridStorage | undefined;
    const client = new RooCloudClient({
      url: syncUrl(),
      deviceId: creds.deviceId,
      getToken: async () => creds.token,
      getCursor: () => storage?.cursor ?? 0,
      outbox,
      requestTimeoutMs: 5000,
      pingIntervalMs: 0,
    });
    if (online) {
      client.start();
      await waitUntil(() => client.isOnline, 'client online', 10_000);
    }
    storage = await HybridStorage.open({
      deviceId: creds.deviceId,
      stores: [store],
      outbox,
      transport: client,
      stateStore: new JsonFileSyncStateStore(join(dir, 'state', 'sync-state.json')),
      blobs: new MemoryBlobStore(),
      entryCache: new MemoryBlobStore(),
    });
    let closed: Promise<void> | undefined;
    const device: Device = {
      storage,
      store,
      outbox,
      client,
      close: () =>
        (closed ??= (async () => {
          await storage!.close();
          await client.close();
          await outbox.close();
        })()),
    };
    closers.push(device.close);
    return device;
  }

  async function writeTask(device: Device, ui: unknown[], api: unknown[], title: string): Promise<void> {
    await device.store.writeTask({ source: 'roo-code', taskId: TASK, ui, api, historyItem: { id: TASK, ts: 1, task: title } });
  }

  /** a synced the task with b, then queued `ui`, `api` and a new title offline; its journal is then deleted. */
  async function offlineWorkThenLostJournal(resendFirst: boolean) {
    const userId = await createTestUser(relay.db);
    const [credsA, credsB] = [await newDevice(userId), await newDevice(userId)];
    const [dirA, dirB] = [await tempDir(), await tempDir()];
    let a = await openDevice(dirA, credsA, true);
    const b = await openDevice(dirB, credsB, true);
    const api = [{ role: 'user', content: 'q1' }, { role: 'assistant', content: 'a1' }, { role: 'user', content: 'q2' }];
    await writeTask(a, [say(1000, 'one'), say(2000, 'two')], api, 'before');
    await a.storage.syncToCloud();
    await b.storage.syncFromCloud();

    await a.close();
    a = await openDevice(dirA, credsA, false);
    const ui = [say(1000, 'one'), say(2000, 'two, rewritten'), say(3000, 'three'), say(4000, 'four')];
    await writeTask(a, ui, api.slice(0, 1), 'renamed offline');
    await assert.rejects(a.storage.syncToCloud(), (err) => isSyncError(err, 'STORAGE_SYNC_FAILED'));
    const queued = a.outbox.pending();
    assert.equal(queued.length, 5, 'meta, three puts, one truncate');
    if (resendFirst) {
      // The relay stores them, but the acks never reach the journal or the sync state.
      const bare = new RooCloudClient({ url: syncUrl(), deviceId: credsA.deviceId, getToken: async () => credsA.token, getCursor: () => 0, pingIntervalMs: 0 });
      bare.start();
      await waitUntil(() => bare.isOnline, 'bare client online', 10_000);
      // The journal was anchored in the first session: its numbers are new to the relay.
      const outcome = await bare.push(a.outbox.pending());
      assert.equal(outcome.accepted.length, 5);
      await bare.close();
    }
    await a.close();
    await unlink(join(dirA, 'state', 'outbox.journal'));
    a = await openDevice(dirA, credsA, true);
    return { a, b, ui, api: api.slice(0, 1), queued };
  }

  it('queues again what the deleted journal held; another device ends up with every change', async () => {
    const { a, b, ui, api } = await offlineWorkThenLostJournal(false);
    const recovery = a.storage.outboxRecovery;
    assert.deepEqual([recovery.checked, recovery.missing, recovery.tasks], [true, 5, 1]);
    const pushed = await a.storage.syncToCloud();
    assert.deepEqual([pushed.queued, pushed.accepted], [0, 5]);
    await b.storage.syncFromCloud();
    const onB = await b.store.readTask(TASK);
    assert.deepEqual(onB?.ui, ui);
    assert.deepEqual(onB?.api, api);
    assert.equal(onB?.historyItem?.task, 'renamed offline');
  });

  it('is harmless when the relay already stored what is sent again (the acks were lost with the journal)', async () => {
    const { a, b, ui, api } = await offlineWorkThenLostJournal(true);
    assert.equal(a.storage.outboxRecovery.missing, 5);
    await a.storage.syncToCloud();
    const puts = (await b.client.pull(0, 1000)).changes.filter((c) => c.body.type === 'stream.put' && c.body.key === '3000:0');
    // Stored a second time under a new clientSeq, with the same content.
    assert.equal(puts.length, 2);
    assert.equal((puts[0]!.body as { hash: string }).hash, (puts[1]!.body as { hash: string }).hash);
    await b.storage.syncFromCloud();
    const onB = await b.store.readTask(TASK);
    assert.deepEqual([onB?.ui, onB?.api, onB?.historyItem?.task], [ui, api, 'renamed offline']);
    // a takes its own changes back without a visible change, and neither device has anything more to send.
    await a.storage.syncFromCloud();
    assert.deepEqual((await a.store.readTask(TASK))?.ui, ui);
    assert.equal((await a.storage.syncToCloud()).queued, 0);
    assert.equal((await b.storage.syncToCloud()).queued, 0);
    assert.equal((await a.storage.validateDataIntegrity()).ok, true);
    assert.equal((await b.storage.validateDataIntegrity()).ok, true);
  });
});
