/**
 * Devices with their real parts on temp folders, for end-to-end sync tests: FsTaskStore in
 * `<dir>/store`, FileOutbox in `<dir>/outbox.journal`, the JSON sync state in
 * `<dir>/sync-state.json`, RooCloudClient over a WebSocket, HybridStorage on top.
 * `useDeviceHarness` installs mocha hooks that close what a test opened (newest first) and
 * remove its folders after each test. The relays to point devices at: the reference relay
 * behind its ws host (`useReferenceRelayHost`) or the real relay on PGlite
 * (`usePgliteRelay`), both on 127.0.0.1 port 0 for the suite.
 */
import { mkdir, mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asDeviceId, asWorkspaceId, type DeviceId } from '../../core/ids';
import { RooCloudClient, type RooCloudClientOptions } from '../../core/node/client/roo-cloud-client';
import { FileOutbox } from '../../core/node/outbox/file-outbox';
import { WsRelayHost } from '../../core/node/relay/ws-relay-host';
import { FsWorkspaceFiles } from '../../core/node/storage/fs-workspace-files';
import { JsonFileSyncStateStore } from '../../core/node/storage/json-file-sync-state-store';
import { FsTaskStore } from '../../core/node/stores/fs-task-store';
import type { BlobStore } from '../../core/ports/blob-store';
import { ReferenceRelay } from '../../core/relay/reference-relay';
import { HybridStorage } from '../../core/storage/hybrid-storage';
import { MemoryBlobStore } from '../../core/storage/memory-blob-store';
import type { Database } from '../../server/db/database';
import type { RelayServer } from '../../server/relay-server';
import { startTestRelay } from '../server/http/relay-fixture';
import { useMigratedPglite } from './pglite';
import { createTestDevice } from './sync-relay';

/** What a device signs in with. */
export interface DeviceCreds {
  deviceId: DeviceId;
  token: string;
}

/** A device opened from its folder. */
export interface TestDevice<S extends FsTaskStore = FsTaskStore> {
  dir: string;
  creds: DeviceCreds;
  storage: HybridStorage;
  store: S;
  outbox: FileOutbox;
  client: RooCloudClient;
  /** Closes the storage, then the client, then the outbox. Idempotent. */
  close(): Promise<void>;
}

export interface DeviceHarnessOptions<S extends FsTaskStore> {
  /** Start of the temp folders' names. */
  tempPrefix: string;
  /** Give each device an FsWorkspaceFiles (workspace id `ws`) on `<dir>/workspace`. Default false. */
  workspace?: boolean;
  /** One blob store for every device (the cloud's blob storage stand-in). Default: a new one per device. */
  blobs?: BlobStore;
  /** The task store on `basePath`. Default: FsTaskStore for roo-code. */
  store?: (basePath: string) => S;
  /** Hand each device's outbox to its client (anchored at every welcome, drained online). Default true. */
  clientOutbox?: boolean;
}

export interface DeviceHarness<S extends FsTaskStore> {
  /** A new temp folder, removed after the test. */
  tempDir(): Promise<string>;
  /** Runs `close` after the test, before the folders are removed (newest first). */
  closeAfter(close: () => Promise<void>): void;
  /** A started client (no pings, 5 s request timeout unless `options` say otherwise), online: welcomed, its outbox anchored if it has one. Closed after the test. */
  onlineClient(creds: DeviceCreds, options?: Partial<RooCloudClientOptions>): Promise<RooCloudClient>;
  /**
   * The device in `dir`. Online (the default): its client is online before HybridStorage opens.
   * Offline: the client is never started, so pushes fail and changes stay queued.
   */
  openDevice(dir: string, creds: DeviceCreds, options?: { online?: boolean }): Promise<TestDevice<S>>;
  /** Closes `device` and opens it again from its folder, after deleting its outbox journal when `loseJournal`. */
  reopen(device: TestDevice<S>, options?: { online?: boolean; loseJournal?: boolean }): Promise<TestDevice<S>>;
}

/** Starts `client` and resolves at its next welcome (it is online then). */
export async function goOnline(client: RooCloudClient): Promise<void> {
  let remove: (() => void) | undefined;
  const online = new Promise<void>((resolve) => (remove = client.onConnected(() => resolve())));
  client.start();
  try {
    await online;
  } finally {
    remove?.();
  }
}

/** Mocha hooks and device factory for one suite; `relayUrl` is the relay's `ws(s)://…/v1/sync` URL. */
export function useDeviceHarness<S extends FsTaskStore = FsTaskStore>(relayUrl: () => string, options: DeviceHarnessOptions<S>): DeviceHarness<S> {
  const dirs: string[] = [];
  const closers: Array<() => Promise<void>> = [];
  // Without a `store` factory S is FsTaskStore (its default).
  const newStore = options.store ?? ((basePath: string) => new FsTaskStore({ source: 'roo-code', basePath }) as S);

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  const journalPath = (dir: string): string => join(dir, 'outbox.journal');

  function newClient(creds: DeviceCreds, clientOptions: Partial<RooCloudClientOptions>): RooCloudClient {
    const client = new RooCloudClient({
      url: relayUrl(),
      deviceId: creds.deviceId,
      getToken: async () => creds.token,
      getCursor: () => 0,
      requestTimeoutMs: 5000,
      pingIntervalMs: 0,
      ...clientOptions,
    });
    closers.push(() => client.close());
    return client;
  }

  const harness: DeviceHarness<S> = {
    async tempDir() {
      const dir = await mkdtemp(join(tmpdir(), options.tempPrefix));
      dirs.push(dir);
      return dir;
    },

    closeAfter(close) {
      closers.push(close);
    },

    async onlineClient(creds, clientOptions = {}) {
      const client = newClient(creds, clientOptions);
      await goOnline(client);
      return client;
    },

    async openDevice(dir, creds, { online = true } = {}) {
      const store = newStore(join(dir, 'store'));
      const outbox = await FileOutbox.open(journalPath(dir));
      let storage: HybridStorage | undefined;
      const client = newClient(creds, {
        getCursor: () => storage?.cursor ?? 0,
        ...(options.clientOutbox === false ? {} : { outbox }),
      });
      if (online) await goOnline(client);
      const workspaces: FsWorkspaceFiles[] = [];
      if (options.workspace) {
        await mkdir(join(dir, 'workspace'), { recursive: true });
        workspaces.push(new FsWorkspaceFiles({ workspaceId: asWorkspaceId('ws'), root: join(dir, 'workspace') }));
      }
      storage = await HybridStorage.open({
        deviceId: creds.deviceId,
        stores: [store],
        outbox,
        transport: client,
        stateStore: new JsonFileSyncStateStore(join(dir, 'sync-state.json')),
        blobs: options.blobs ?? new MemoryBlobStore(),
        entryCache: new MemoryBlobStore(),
        workspaces,
      });
      const opened = storage;
      let closed: Promise<void> | undefined;
      const device: TestDevice<S> = {
        dir,
        creds,
        storage: opened,
        store,
        outbox,
        client,
        close: () =>
          (closed ??= (async () => {
            await opened.close();
            await client.close();
            await outbox.close();
          })()),
      };
      closers.push(device.close);
      return device;
    },

    async reopen(device, { online = true, loseJournal = false } = {}) {
      await device.close();
      if (loseJournal) await unlink(journalPath(device.dir));
      return harness.openDevice(device.dir, device.creds, { online });
    },
  };
  return harness;
}

/** The reference relay behind its WebSocket host, for the suite. */
export interface ReferenceRelayHost {
  readonly relay: ReferenceRelay;
  /** The host's sync URL. */
  readonly url: string;
}

/** Mocha hooks: a reference relay and its ws host started before the suite, closed after it. */
export function useReferenceRelayHost(): ReferenceRelayHost {
  let relay: ReferenceRelay | undefined;
  let host: WsRelayHost | undefined;
  before(async () => {
    relay = new ReferenceRelay();
    host = await WsRelayHost.start({ relay });
  });
  after(async () => {
    await host?.close();
    relay?.close();
  });
  return {
    get relay() {
      return started(relay);
    },
    get url() {
      return started(host).url;
    },
  };
}

/** The real relay on a migrated PGlite, for the suite. */
export interface PgliteRelay {
  readonly server: RelayServer;
  readonly db: Database;
  /** Its `ws://…/v1/sync` URL. */
  syncUrl(): string;
  /** A device of `userId` with a valid access token. */
  newDevice(userId: string): Promise<DeviceCreds>;
}

/** Mocha hooks: one migrated PGlite (emptied before each test) and a relay on it, started before the suite, closed after it. */
export function usePgliteRelay(): PgliteRelay {
  const db = useMigratedPglite();
  let server: RelayServer | undefined;
  before(async () => {
    server = await startTestRelay(db());
  });
  after(async () => {
    await server?.close();
  });
  const relay: PgliteRelay = {
    get server() {
      return started(server);
    },
    get db() {
      return started(server).db;
    },
    syncUrl: () => `${started(server).url.replace(/^http/, 'ws')}/v1/sync`,
    async newDevice(userId) {
      const { deviceId, token } = await createTestDevice(relay.db, userId);
      return { deviceId: asDeviceId(deviceId), token };
    },
  };
  return relay;
}

function started<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('used before the suite started (a before hook sets it)');
  return value;
}
