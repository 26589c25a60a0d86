/**
 * Regression: a device that lost its outbox journal numbered its changes from 1 again, and the
 * relay answered them as replays of what it already held under those numbers (acked, never
 * stored). The real relay (startRelayServer on PGlite, WebSocket on port 0) now names the
 * device's highest accepted clientSeq in the welcome, and the outbox moves above it before
 * pushing. Real parts on the device: FsTaskStore, FileOutbox and the JSON sync state on temp
 * folders, RooCloudClient, HybridStorage.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asDeviceId, asTaskId, asUserId, type DeviceId, type TaskId } from '../../../core/ids';
import type { ChangeBody } from '../../../core/model/changes';
import { RooCloudClient, type RooCloudClientOptions } from '../../../core/node/client/roo-cloud-client';
import { FileOutbox } from '../../../core/node/outbox/file-outbox';
import { JsonFileSyncStateStore } from '../../../core/node/storage/json-file-sync-state-store';
import { FsTaskStore } from '../../../core/node/stores/fs-task-store';
import { HybridStorage } from '../../../core/storage/hybrid-storage';
import { MemoryBlobStore } from '../../../core/storage/memory-blob-store';
import { compactLog } from '../../../server/db/change-log';
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
const future = () => new Date(Date.now() + 60_000);

describe('a device that lost its outbox journal, on the real relay (PGlite)', function () {
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
    const dir = await mkdtemp(join(tmpdir(), 'roo-outbox-loss-'));
    dirs.push(dir);
    return dir;
  }

  /** A started client, online (welcomed, outbox anchored) before it is returned. */
  async function onlineClient(creds: Creds, options: Partial<RooCloudClientOptions> = {}): Promise<RooCloudClient> {
    const client = new RooCloudClient({
      url: syncUrl(),
      deviceId: creds.deviceId,
      getToken: async () => creds.token,
      getCursor: () => 0,
      requestTimeoutMs: 5000,
      pingIntervalMs: 0,
      ...options,
    });
    closers.push(() => client.close());
    client.start();
    await waitUntil(() => client.isOnline, 'client online', 10_000);
    return client;
  }

  /** The device's folders under `dir`: the task store, and the state folder (outbox, sync state). */
  async function openDevice(dir: string, creds: Creds): Promise<Device> {
    const store = new FsTaskStore({ source: 'roo-code', basePath: join(dir, 'store') });
    await mkdir(join(dir, 'state'), { recursive: true });
    const outbox = await FileOutbox.open(join(dir, 'state', 'outbox.journal'));
    let storage: HybridStorage | undefined;
    const client = await onlineClient(creds, { outbox, getCursor: () => storage?.cursor ?? 0 });
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

  function message(ts: number, text: string): Record<string, unknown> {
    return { ts, type: 'say', say: 'text', text };
  }

  async function writeUi(device: Device, ui: unknown[]): Promise<void> {
    await device.store.writeTask({ source: 'roo-code', taskId: TASK, ui, api: [], historyItem: { id: TASK, ts: 1, task: 'lost journal' } });
  }

  it('pushes the changes made after the journal was deleted, and another device pulls them', async () => {
    const userId = await createTestUser(relay.db);
    const [credsA, credsB] = [await newDevice(userId), await newDevice(userId)];
    const [dirA, dirB] = [await tempDir(), await tempDir()];
    let a = await openDevice(dirA, credsA);
    const b = await openDevice(dirB, credsB);

    const ui = [message(1000, 'one'), message(2000, 'two'), message(3000, 'three')];
    await writeUi(a, ui);
    const first = await a.storage.syncToCloud();
    assert.ok(first.accepted >= 4, `accepted ${first.accepted}`);
    // A rewrite supersedes a change of a, and compaction removes it from the log.
    ui[1] = message(2000, 'two, edited');
    await writeUi(a, ui);
    assert.equal((await a.storage.syncToCloud()).accepted, 1);
    assert.ok((await compactLog(relay.db, asUserId(userId), future())).removed >= 1);
    await b.storage.syncFromCloud();
    assert.deepEqual((await b.store.readTask(TASK))?.ui, ui);

    // Between runs the journal goes (the rest of the device's state stays).
    await a.close();
    await unlink(join(dirA, 'state', 'outbox.journal'));
    a = await openDevice(dirA, credsA);
    assert.equal(a.outbox.anchored, true, 'anchored at the welcome');

    ui.push(message(4000, 'four, after the journal was lost'));
    await writeUi(a, ui);
    const after = await a.storage.syncToCloud();
    assert.deepEqual([after.queued, after.accepted], [1, 1]);
    await b.storage.syncFromCloud();
    assert.deepEqual((await b.store.readTask(TASK))?.ui, ui);
    assert.equal(a.outbox.size, 0);
  });

  it('stores a change re-sent after its ack was lost once, also when compaction removed it meanwhile', async () => {
    const userId = await createTestUser(relay.db);
    const [credsA, credsB] = [await newDevice(userId), await newDevice(userId)];
    const path = join(await tempDir(), 'outbox.journal');
    const put = (key: number, content: string): { body: ChangeBody; baseSeq: null } => ({
      baseSeq: null,
      body: { type: 'stream.put', source: 'roo-code', taskId: TASK as TaskId, stream: 'api', key: String(key), hash: 'd'.repeat(64), entry: { content } },
    });

    const outbox = await FileOutbox.open(path);
    closers.push(() => outbox.close());
    const anchoring = await onlineClient(credsA, { outbox });
    await anchoring.close();
    const queued = await outbox.enqueue([put(0, 'a'), put(1, 'b'), put(2, 'c')]);
    // Pushed and stored, but the acks never reached the journal.
    const bare = await onlineClient(credsA);
    assert.deepEqual((await bare.push(queued)).accepted.map((x) => x.clientSeq), [1, 2, 3]);
    await bare.close();
    // Meanwhile another device rewrites entry 0 and compaction removes a's version of it.
    const other = await onlineClient(credsB);
    await other.push([{ clientSeq: 1, ...put(0, 'a, from b') }]);
    assert.equal((await compactLog(relay.db, asUserId(userId), future())).removed, 1);

    const anchors: unknown[] = [];
    const client = await onlineClient(credsA, { outbox });
    client.onOutboxAnchored((outcome) => anchors.push(outcome));
    await waitUntil(() => outbox.size === 0, 'the re-sent changes acknowledged', 10_000);
    assert.deepEqual(anchors, [], 'nothing renumbered: the counter was at the relay mark');

    const log = (await other.pull(0, 1000)).changes;
    assert.deepEqual(
      log.map((c) => [c.deviceId === credsA.deviceId ? 'a' : 'b', c.clientSeq]),
      [
        ['a', 2],
        ['a', 3],
        ['b', 1],
      ],
    );
  });
});
