/**
 * SyncDevice: one machine's device, assembled once for every shell (the CLI's `sync`, the
 * extension, the tests). Given the credentials store, a data folder and the task stores (and
 * optionally workspace folders) to sync, it:
 *
 * 1. takes the device-wide lock of the data folder and each store's owner lock. A lock another
 *    live process holds is not fought over: that store is followed (its holder syncs it and
 *    writes what arrives; this process only reports who), and the lock is tried again every
 *    `followRetryMs`, so a follower takes over when the holder exits;
 * 2. opens the owned stores, the durable outbox, the sync state and the durable entry cache,
 *    and joins them in HybridStorage, with RooCloudClient as the link to the relay, the relay's
 *    read model as the fallback for entries the cache lacks, and the relay's blob routes;
 * 3. runs live: each store's watcher hands the tasks that changed to HybridStorage (detect,
 *    queue durably, push), live changes from other devices are pulled and applied, the access
 *    token is renewed before it expires and handed to the open socket;
 * 4. reports one DeviceStatus (core/device/device-status.ts) on every change;
 * 5. closes in order: stop watching, flush the outbox while online (bounded), close the engine,
 *    the socket, the outbox and the cache, then release the locks. Idempotent.
 *
 * A relay that refuses the refresh token (device revoked) ends in `signed-out`: the engine
 * stops, queued changes stay on disk, nothing retries.
 */
import { mkdir } from 'node:fs/promises';
import { SyncError, isSyncError } from '../../errors';
import { oneLine } from '../../one-line';
import { asTaskId, asWorkspaceId, type DeviceId } from '../../ids';
import { AuthSession } from '../../client/auth-session';
import { RelayEntries } from '../../client/relay-entries';
import { syncUrlOf, type RelayHttpOptions } from '../../client/relay-http';
import type { DeviceStatus, DeviceStoreStatus, LockHolder, UnrestorableEntry } from '../../device/device-status';
import type { ServerChange, TaskSource } from '../../model/changes';
import type { CredentialsStore } from '../../ports/credentials-store';
import { liveEntryHashes } from '../../storage/entry-cache';
import { HybridStorage, type SyncRoundReport, type SyncToCloudReport } from '../../storage/hybrid-storage';
import type { WaitingTask } from '../../storage/task-defer';
import { Listeners } from '../../client/listeners';
import { HttpBlobStore } from '../blobs/http-blob-store';
import { RooCloudClient, type RooCloudClientOptions } from '../client/roo-cloud-client';
import { FileOutbox } from '../outbox/file-outbox';
import { OwnerLock, lockHolderOf } from '../outbox/owner-lock';
import { FsEntryCache } from '../storage/fs-entry-cache';
import { FsWorkspaceFiles } from '../storage/fs-workspace-files';
import { JsonFileSyncStateStore } from '../storage/json-file-sync-state-store';
import { FsTaskStore, type LegacyTaskIndex } from '../stores/fs-task-store';
import { FileChangeDetector } from '../watch/file-change-detector';
import { IndexEntryChanges } from '../watch/index-entry-changes';
import { TaskStoreWatcher, type TaskStoreBatch } from '../watch/task-store-watcher';
import { deviceFolder, storeLockPath, type DeviceFolder } from './device-folder';

/** A task store to sync: the folder that holds `tasks/`. */
export interface SyncDeviceStore {
  source: TaskSource;
  basePath: string;
  /** The store's pre-index HistoryItems (VS Code's state.vscdb, see LegacyStateIndex), for tasks with no history_item.json. */
  legacyIndex?: LegacyTaskIndex;
}

/** A workspace folder to sync (files under `root`, except what `ignore` leaves out). */
export interface SyncDeviceWorkspace {
  workspaceId: string;
  root: string;
  ignore?: (relPath: string) => boolean;
}

/** Where the device's log lines go (the CLI's stderr, the extension's output channel). Never given secrets. */
export interface DeviceLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface SyncDeviceOptions {
  credentials: CredentialsStore;
  /** The device's own folder (outbox, sync state, entry cache, watcher state, locks). */
  dataDir: string;
  stores: readonly SyncDeviceStore[];
  workspaces?: readonly SyncDeviceWorkspace[];
  /** What this process calls itself in its locks (`roo-sync sync`, `VS Code window`). */
  holderName: string;
  logger?: DeviceLogger;
  /** Watch the stores and pull live changes (default true). False: only `syncNow()` syncs. */
  live?: boolean;
  /** How often a follower tries the locks again (ms). Default 5 s. */
  followRetryMs?: number;
  /** While live and online, pull at least this often (ms; 0: only on notifications). Default 60 s. */
  pollIntervalMs?: number;
  /** Pause before a pull that failed on a live socket is tried again (ms). Default 2 s. */
  pullRetryMs?: number;
  /** Bound of the durable entry cache. Default 512 MiB. */
  entryCacheMaxBytes?: number;
  /** Watcher timings (ms). */
  watch?: { debounceMs?: number; maxWaitMs?: number };
  /** Tuning of the relay link (timeouts, backoff, pings). */
  client?: Partial<Pick<RooCloudClientOptions, 'requestTimeoutMs' | 'backoff' | 'pingIntervalMs' | 'offlineAfterFailures' | 'stableAfterMs' | 'codecs' | 'compressThreshold'>>;
  http?: RelayHttpOptions;
  /** Wall clock (ms). Default Date.now. */
  now?: () => number;
}

/** What one `syncNow()` round did (HybridStorage.syncRound). */
export type { SyncRoundReport };

const NO_LOGGER: DeviceLogger = { debug() {}, info() {}, warn() {}, error() {} };
const DEVICE_IN_USE = 'DEVICE_IN_USE';
const STORE_IN_USE = 'STORE_IN_USE';

/** Everything that exists while this process owns stores. Closed as one, in order. */
interface Engine {
  folder: DeviceFolder;
  deviceLock: OwnerLock;
  storeLocks: OwnerLock[];
  owned: SyncDeviceStore[];
  /** The owned stores' readers and writers, in the order of `owned`. */
  taskStores: FsTaskStore[];
  outbox: FileOutbox;
  entryCache: FsEntryCache;
  client: RooCloudClient;
  storage: HybridStorage;
  watchers: Array<{ flush(): Promise<void>; close(): Promise<void> }>;
  /** Settles when every watcher has started and delivered its start-up rescan. */
  watching?: Promise<void>;
  /**
   * Set while the watchers wait for the device's first pull (see `deferWatching`); called with
   * the started watchers' `watching` (or nothing when the engine stops first).
   */
  watchAfterPull?: (started?: Promise<void>) => void;
  removers: Array<() => void>;
  /** The tasks waiting for their files (task-defer) as last logged, so a change is logged once. */
  waitingLogged?: string;
  renewTimer?: NodeJS.Timeout;
  pullRetry?: NodeJS.Timeout;
  pollTimer?: NodeJS.Timeout;
}

export class SyncDevice {
  private readonly logger: DeviceLogger;
  private readonly statusListeners = new Listeners<[DeviceStatus]>();
  private session: AuthSession | null = null;
  private engine: Engine | null = null;
  private followed: DeviceStoreStatus[] = [];
  private followTimer?: NodeJS.Timeout;
  private current: DeviceStatus;
  private signedOut = false;
  private closed = false;
  private closing?: Promise<void>;
  private busy = 0;
  private pullAgain = false;
  /** A pull from the cursor is wanted (not only the live changes below). */
  private fullPull = false;
  /** Live changes received while a pull or an apply ran. */
  private liveChanges: ServerChange[] = [];
  private pulling: Promise<void> | null = null;
  private lastSyncAt: number | null = null;
  private lastError: { code: string; message: string } | null = null;
  private readonly unrestorable = new Map<string, UnrestorableEntry>();
  /** Serialises engine start and stop (a follower's takeover against close, sign-out). */
  private lifecycle: Promise<unknown> = Promise.resolve();

  private constructor(private readonly options: SyncDeviceOptions) {
    this.logger = options.logger ?? NO_LOGGER;
    this.current = this.computeStatus();
  }

  /**
   * Opens the device: signed out when the store holds no credentials (nothing else happens);
   * otherwise it takes the locks it can and starts syncing the stores it owns.
   */
  static async open(options: SyncDeviceOptions): Promise<SyncDevice> {
    const device = new SyncDevice(options);
    device.session = await AuthSession.open({ store: options.credentials, http: options.http, now: options.now });
    if (!device.session) {
      device.signedOut = true;
      device.emit();
      return device;
    }
    device.session.onSignedOut((reason) => void device.onSignedOut(reason));
    await device.serial(() => device.tryOwn());
    return device;
  }

  get status(): DeviceStatus {
    return structuredClone(this.current);
  }

  /** Status changes (each a full DeviceStatus). Returns its remover. */
  onStatus(listener: (status: DeviceStatus) => void): () => void {
    return this.statusListeners.add(listener);
  }

  /** The device id, when signed in. */
  get deviceId(): DeviceId | null {
    return this.session?.credentials.deviceId ?? null;
  }

  /** The relay link while this process syncs (remote commands, presence); null otherwise. */
  get client(): RooCloudClient | null {
    return this.engine?.client ?? null;
  }

  /** The sync engine while this process syncs; null otherwise. */
  get storage(): HybridStorage | null {
    return this.engine?.storage ?? null;
  }

  /** The signed-in session (tokens for the relay's HTTP routes); null when signed out. */
  get auth(): AuthSession | null {
    return this.signedOut ? null : this.session;
  }

  /**
   * One full round (HybridStorage.syncRound): every task of the owned stores and every workspace
   * is compared with the sync state (changes queued durably and pushed), everything after the
   * cursor is pulled and applied, and what that queued is pushed. Throws DEVICE_NOT_SYNCING when
   * this process syncs nothing (signed out, following another process, closed);
   * STORAGE_SYNC_FAILED when the relay cannot be reached (the changes stay queued).
   */
  async syncNow(): Promise<SyncRoundReport> {
    const engine = this.requireEngine();
    this.busy++;
    this.emit();
    try {
      const report = await engine.storage.syncRound();
      this.noteUnrestorable(report.pushed.unrestorable);
      this.noteWaiting(engine, report.pulled.waiting);
      this.lastSyncAt = (this.options.now ?? Date.now)();
      this.lastError = null;
      this.startDeferredWatching(engine);
      return report;
    } catch (err) {
      this.noteError(err);
      throw err;
    } finally {
      this.busy--;
      this.emit();
    }
  }

  /**
   * Resolves when the device has caught up with what happened so far: every watcher's pending
   * events are handed over (detected, queued, pushed) and the pulls under way are applied.
   * Resolves at once when this process syncs nothing.
   */
  async idle(): Promise<void> {
    const engine = this.engine;
    if (!engine) return;
    // Watchers waiting for the first pull start once online; offline there is nothing to wait for.
    if (!engine.watchAfterPull || engine.client.isOnline) await engine.watching;
    for (const watcher of engine.watchers) await watcher.flush();
    while (this.pulling) await this.pulling;
    if (engine.client.isOnline && engine.outbox.size > 0) await engine.client.flush();
  }

  /** Resolves once the relay link is online (or rejects with DEVICE_NOT_SYNCING / when closed). */
  async waitUntilOnline(): Promise<void> {
    const engine = this.requireEngine();
    if (engine.client.isOnline) return;
    await new Promise<void>((resolve, reject) => {
      const remove = this.onStatus((status) => {
        if (this.engine?.client.isOnline) {
          remove();
          resolve();
        } else if (status.state === 'closed' || status.state === 'signed-out') {
          remove();
          reject(new SyncError('DEVICE_NOT_SYNCING', `the device is ${status.state}`));
        }
      });
    });
  }

  /** Stops in order (see the module doc) and releases the locks. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (this.followTimer) clearTimeout(this.followTimer);
      await this.serial(() => this.stopEngine({ flush: true }));
      this.emit();
    })();
    return this.closing;
  }

  // ------------------------------------------------------------------ ownership

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.lifecycle.then(work);
    this.lifecycle = run.catch(() => undefined);
    return run;
  }

  /** Takes the locks this process can get and (re)starts the engine over the stores it owns. */
  private async tryOwn(): Promise<void> {
    if (this.closed || this.signedOut || !this.session) return;
    const creds = this.session.credentials;
    const folder = deviceFolder(this.options.dataDir, creds.deviceId);
    const stores = this.options.stores;
    if (this.engine && this.engine.owned.length === stores.length) return;
    await mkdir(this.options.dataDir, { recursive: true });
    const deviceLock = this.engine?.deviceLock ?? (await this.acquire(folder.deviceLock, DEVICE_IN_USE, 'the device folder'));
    if (deviceLock instanceof SyncError) {
      this.followed = stores.map((s) => ({ source: s.source, basePath: s.basePath, role: 'following' as const, holder: holderOf(deviceLock) }));
      this.scheduleFollow();
      this.emit();
      return;
    }
    const owned: SyncDeviceStore[] = [];
    const locks: OwnerLock[] = [];
    const followed: DeviceStoreStatus[] = [];
    for (const store of stores) {
      const held = this.engine?.storeLocks[this.engine.owned.indexOf(store)];
      const lock = held ?? (await this.acquire(storeLockPath(store.basePath), STORE_IN_USE, `the task store ${store.basePath}`));
      if (lock instanceof SyncError) followed.push({ source: store.source, basePath: store.basePath, role: 'following', holder: holderOf(lock) });
      else {
        owned.push(store);
        locks.push(lock);
      }
    }
    this.followed = followed;
    if (followed.length > 0) this.scheduleFollow();
    if (this.engine && owned.length === this.engine.owned.length) {
      this.emit();
      return;
    }
    // More stores than the running engine has (a holder let go): start over with all of them.
    if (this.engine) await this.stopEngine({ flush: true, keepLocks: true });
    if (owned.length === 0 && stores.length > 0) {
      await deviceLock.release();
      this.emit();
      return;
    }
    // No store at all (no assistant on this machine) still makes a device: it connects, shows
    // its presence and answers remote commands.
    try {
      this.engine = await this.startEngine(folder, deviceLock, owned, locks);
    } catch (err) {
      for (const lock of locks) await lock.release();
      await deviceLock.release();
      this.noteError(err);
      throw err;
    }
    this.emit();
  }

  private async acquire(path: string, code: string, what: string): Promise<OwnerLock | SyncError> {
    try {
      return await OwnerLock.acquire(path, { name: this.options.holderName, code, what });
    } catch (err) {
      if (isSyncError(err, code)) {
        this.logger.info(`${what} is synced by another process; following it`, { holder: err.details?.name, pid: err.details?.pid });
        return err;
      }
      throw err;
    }
  }

  private scheduleFollow(): void {
    if (this.followTimer || this.closed) return;
    this.followTimer = setTimeout(() => {
      this.followTimer = undefined;
      void this.serial(() => this.tryOwn()).catch((err: unknown) => this.noteError(err));
    }, this.options.followRetryMs ?? 5000);
    this.followTimer.unref?.();
  }

  // ------------------------------------------------------------------ the engine

  private async startEngine(folder: DeviceFolder, deviceLock: OwnerLock, owned: SyncDeviceStore[], storeLocks: OwnerLock[]): Promise<Engine> {
    const session = this.session!;
    const creds = session.credentials;
    const getToken = () => session.accessToken();
    const outbox = await FileOutbox.open(folder.outbox);
    let entryCache: FsEntryCache | undefined;
    let client: RooCloudClient | undefined;
    try {
      entryCache = await FsEntryCache.open({ dir: folder.entries, maxBytes: this.options.entryCacheMaxBytes });
      let storage: HybridStorage | undefined;
      client = new RooCloudClient({
        ...this.options.client,
        url: syncUrlOf(creds.serverUrl),
        deviceId: creds.deviceId,
        getToken,
        getCursor: () => storage?.cursor ?? 0,
        outbox,
      });
      const stores = owned.map((s) => new FsTaskStore({ source: s.source, basePath: s.basePath, ...(s.legacyIndex ? { legacyIndex: s.legacyIndex } : {}) }));
      storage = await HybridStorage.open({
        deviceId: creds.deviceId,
        stores,
        outbox,
        transport: client,
        stateStore: new JsonFileSyncStateStore(folder.syncState),
        blobs: new HttpBlobStore({ serverUrl: creds.serverUrl, getToken: (renew) => (renew ? session.renew() : getToken()), ...this.options.http }),
        entryCache,
        remoteEntries: new RelayEntries(creds.serverUrl, getToken, this.options.http),
        workspaces: (this.options.workspaces ?? []).map((w) => new FsWorkspaceFiles({ workspaceId: asWorkspaceId(w.workspaceId), root: w.root, ignore: w.ignore })),
        now: this.options.now,
      });
      const engine: Engine = { folder, deviceLock, storeLocks, owned, taskStores: stores, outbox, entryCache, client, storage, watchers: [], removers: [] };
      await this.compactEntryCache(engine);
      this.wire(engine);
      client.start();
      if (this.options.live ?? true) {
        if (storage.caughtUp) this.startWatching(engine);
        else this.deferWatching(engine);
        this.startPolling(engine);
      }
      this.logger.info('syncing', { deviceId: creds.deviceId, stores: owned.map((s) => s.basePath), server: creds.serverUrl });
      return engine;
    } catch (err) {
      await client?.close();
      await entryCache?.close();
      await outbox.close();
      throw err;
    }
  }

  private wire(engine: Engine): void {
    const { client, storage } = engine;
    const session = this.session!;
    engine.removers.push(
      client.onConnected((welcome) => {
        void (async () => {
          if (welcome.resync) await storage.resync();
          // Not live: only syncNow() pulls (a migration must not write remote tasks into the store).
          if (this.options.live ?? true) this.schedulePull(engine);
        })().catch((err: unknown) => this.noteError(err));
      }),
      // Live changes are applied as they come (no pull round trip when they follow the cursor).
      client.onLiveChanges((changes) => {
        if (this.options.live ?? true) this.schedulePull(engine, changes);
      }),
      // A page with hasMore: the relay held live pages back (slow consumer) or lost them (its
      // pub/sub was down): pull.
      client.onLivePage((page) => {
        if (page.hasMore && (this.options.live ?? true)) this.schedulePull(engine);
      }),
      client.onDrainConflicts(async ({ conflicts }) => {
        await storage.resolveConflicts(conflicts);
        // What settling queued goes out now, not at the next local change. Not awaited here:
        // this listener runs inside the drain that flush() would wait for.
        setImmediate(() => void client.flush());
      }),
      client.onStatus((status) => {
        if (status.lastError?.code === 'CLOSE_FORBIDDEN' && status.stopped) {
          // Revoked or refused: the refresh tells which, and a refusal ends in signed-out.
          void session.renew().catch((err: unknown) => this.noteError(err));
        }
        this.emit();
      }),
      storage.onUnrestorable((entries) => this.noteUnrestorable(entries)),
      storage.onTaskConflictCopy((copy) =>
        this.logger.info("another device changed a task this one had changed too: both versions kept, this device's as a new task", {
          source: copy.source,
          task: copy.taskId,
          copy: copy.copyId,
          // The title is the task's first prompt: one line, cut short, in a log.
          ...(copy.title ? { title: oneLine(copy.title, 80) } : {}),
        }),
      ),
      session.onRenewed(() => {
        this.armRenewal(engine);
        if (client.isOnline) void client.reauthenticate().catch((err: unknown) => this.logger.warn('could not hand the renewed token to the socket', { code: codeOf(err) }));
      }),
    );
    this.armRenewal(engine);
  }

  /** Renews the access token shortly before it expires, so the open socket never hits the expiry. */
  private armRenewal(engine: Engine): void {
    if (engine.renewTimer) clearTimeout(engine.renewTimer);
    const due = this.session?.renewalDueAt();
    if (due === null || due === undefined) return;
    const now = (this.options.now ?? Date.now)();
    engine.renewTimer = setTimeout(() => {
      // renew(), not accessToken(): a timer may fire a little early, when the token still counts as fresh.
      void this.session?.renew().catch((err: unknown) => this.noteError(err));
    }, Math.max(0, Math.min(due - now, 2 ** 31 - 1)));
    engine.renewTimer.unref?.();
  }

  /**
   * Starts the watchers. Not awaited by the engine's start: each one's start-up rescan (what
   * changed while nothing ran; on a first sync, the whole store) is pushed as a batch while the
   * engine already runs (`pushLocal` drops batches of an engine that is not the current one, so
   * a start that awaited them lost that batch). `idle()` waits for the rescans.
   */
  /**
   * Starts the stores' and workspaces' watchers. `forgetSavedState`: their start-up rescan
   * reports every file, not only those changed since their manifests were saved (see
   * startDeferredWatching).
   */
  private startWatching(engine: Engine, forgetSavedState = false): void {
    const watchOptions = { debounceMs: this.options.watch?.debounceMs, maxWaitMs: this.options.watch?.maxWaitMs, forgetSavedState };
    const starts: Promise<void>[] = [];
    engine.owned.forEach((store, i) => {
      const watcher = new TaskStoreWatcher(store.basePath, { ...definedOnly(watchOptions), statePath: engine.folder.watchState(store.basePath), rescan: 'stat' });
      const taskStore = engine.taskStores[i]!;
      const indexChanges = new IndexEntryChanges(() => taskStore.indexEntries());
      engine.watchers.push(watcher);
      watcher.onError((err) => this.noteError(err));
      watcher.onBatch((batch) => this.onStoreBatch(engine, store, batch, indexChanges));
      starts.push(watcher.start());
    });
    for (const workspace of this.options.workspaces ?? []) {
      const watcher = new FileChangeDetector(workspace.root, { ...definedOnly(watchOptions), ignore: workspace.ignore, statePath: engine.folder.watchState(workspace.root), rescan: 'stat' });
      engine.watchers.push(watcher);
      watcher.onError((err) => this.noteError(err));
      watcher.onBatch(() => this.pushLocal(engine, () => engine.storage.syncToCloud({ tasks: [], files: true })));
      starts.push(watcher.start());
    }
    engine.watching = Promise.all(starts.map((start) => start.catch((err: unknown) => this.noteError(err)))).then(() => undefined);
  }

  /**
   * A device that has not caught up with the log yet (HybridStorage.caughtUp: new, its sync state
   * lost, or its first pull cut short) starts its watchers after a pull to the head, whose apply
   * recognises what the stores already hold of the relay's tasks (task-adopt). Their start-up
   * rescan reports the whole store; detected first, a store filled by `backfill` would go back
   * to the relay whole, as local edits. Offline, the files wait on disk: nothing is detected
   * (or queued) until the relay answers.
   */
  private deferWatching(engine: Engine): void {
    engine.watching = new Promise<void>((resolve) => {
      engine.watchAfterPull = resolve;
    });
  }

  /**
   * Starts the watchers `deferWatching` held back, once (after a pull, or a full round). Their
   * manifests are forgotten: a device that was not caught up has a sync state that is new (or
   * was lost) while a manifest may survive from before, and a manifest that says a file is
   * unchanged would keep a local edit in it, which the catch-up found on disk and not in the
   * log (task-adopt releases it), from being detected until the file is written again.
   */
  private startDeferredWatching(engine: Engine): void {
    const release = engine.watchAfterPull;
    if (!release || this.engine !== engine) return;
    engine.watchAfterPull = undefined;
    this.startWatching(engine, true);
    release(engine.watching);
  }

  /**
   * Hands a watcher batch to HybridStorage: the changed tasks, and when an index changed, the
   * tasks whose index entry changed too (every task when that cannot be told: the first index
   * change seen, or an unreadable index).
   */
  private async onStoreBatch(engine: Engine, store: SyncDeviceStore, batch: TaskStoreBatch, indexChanges: IndexEntryChanges): Promise<void> {
    let ids: string[] | null = batch.taskIds;
    if (batch.indexChanged) {
      const changed = await indexChanges.next().catch(() => null);
      ids = changed === null ? null : [...new Set([...batch.taskIds, ...changed])];
    }
    const tasks = ids?.map((taskId) => ({ source: store.source, taskId: asTaskId(taskId) }));
    await this.pushLocal(engine, () => engine.storage.syncToCloud({ tasks, files: false }));
  }

  /**
   * Runs a detection-and-push. Offline is not a failure here: the changes are queued durably
   * and go out on reconnect. Anything else fails the watcher's batch, which it reports again.
   */
  private async pushLocal(engine: Engine, run: () => Promise<SyncToCloudReport>): Promise<void> {
    if (this.engine !== engine) return;
    this.busy++;
    this.emit();
    try {
      const report = await run();
      for (const task of report.unreadable) this.logger.warn('a task could not be read; left as it is', { ...task });
      // A detection applies what waited for a task that reads again (task-defer).
      this.noteWaiting(engine, engine.storage.waitingTasks);
      if (report.queued > 0 || report.accepted > 0) this.logger.debug('pushed local changes', { queued: report.queued, accepted: report.accepted });
      this.lastError = null;
    } catch (err) {
      if (!isSyncError(err, 'STORAGE_SYNC_FAILED')) {
        this.noteError(err);
        throw err;
      }
      // Queued durably. Offline, the next welcome drains it; online (the relay answered an
      // error, e.g. its database restarting) nothing else would: retry after a backoff.
      engine.client.flushLater();
    } finally {
      this.busy--;
      this.emit();
    }
  }

  /**
   * Pulls and applies what the relay has after the cursor, or, given `live` changes, applies
   * those (HybridStorage.applyLiveChanges pulls only when they leave a gap). Coalesces requests
   * that come meanwhile; a pull covers the live changes that waited for it.
   */
  private schedulePull(engine: Engine, live?: readonly ServerChange[]): void {
    if (this.engine !== engine) return;
    if (live) this.liveChanges.push(...live);
    else this.fullPull = true;
    if (this.pulling) {
      this.pullAgain = true;
      return;
    }
    this.busy++;
    this.emit();
    this.pulling = (async () => {
      do {
        this.pullAgain = false;
        const changes = this.liveChanges.splice(0);
        const full = this.fullPull || changes.length === 0;
        this.fullPull = false;
        try {
          const report = full ? await engine.storage.syncFromCloud() : await engine.storage.applyLiveChanges(changes);
          this.lastSyncAt = (this.options.now ?? Date.now)();
          this.lastError = null;
          if (full) this.startDeferredWatching(engine);
          if (report.applied > 0) this.logger.debug('applied remote changes', { applied: report.applied, cursor: engine.storage.cursor });
          this.noteWaiting(engine, report.waiting);
        } catch (err) {
          if (isSyncError(err, 'STORAGE_SYNC_FAILED')) this.retryPullLater(engine);
          else if (!isSyncError(err, 'STORAGE_CLOSED')) {
            this.noteError(err);
            // The relay answered: local changes must not wait for a pull that keeps failing.
            if (full) this.startDeferredWatching(engine);
            // Live changes that could not be applied are not lost: a pull later fetches them.
            if (!full) this.retryPullLater(engine);
          }
        }
      } while (this.pullAgain && this.engine === engine);
    })().finally(() => {
      this.pulling = null;
      this.busy--;
      this.emit();
    });
  }

  /**
   * A pull that failed while the socket stayed up (the relay's database briefly away) is tried
   * again after a pause; a reconnect pulls anyway. Without this, remote changes waited for the
   * next live change.
   */
  private retryPullLater(engine: Engine): void {
    if (engine.pullRetry || this.engine !== engine) return;
    engine.pullRetry = setTimeout(() => {
      engine.pullRetry = undefined;
      if (this.engine === engine && engine.client.isOnline) this.schedulePull(engine);
    }, this.options.pullRetryMs ?? 2000);
    engine.pullRetry.unref?.();
  }

  /**
   * While online, pulls every `pollIntervalMs` whatever the live notifications said: a change
   * whose notification was lost (a relay failover between a pull and the subscription, pub/sub
   * down) still arrives within that time. An empty pull costs one small round trip.
   */
  private startPolling(engine: Engine): void {
    const interval = this.options.pollIntervalMs ?? 60_000;
    if (interval <= 0) return;
    engine.pollTimer = setInterval(() => {
      if (this.engine === engine && engine.client.isOnline) this.schedulePull(engine);
    }, interval);
    engine.pollTimer.unref?.();
  }

  /** Drops cache records the sync state no longer names, when the cache has grown enough to matter. */
  private async compactEntryCache(engine: Engine): Promise<void> {
    const size = await engine.entryCache.sizeOnDisk();
    if (size < 32 * 1024 * 1024) return;
    const live = await engine.storage.entryHashesInUse();
    const report = await engine.entryCache.compact((hash) => live.has(hash));
    this.logger.info('compacted the entry cache', { ...report });
  }

  /** Closes the engine in order; with `flush`, pushes what is queued first while online (bounded). */
  private async stopEngine(how: { flush: boolean; keepLocks?: boolean }): Promise<void> {
    const engine = this.engine;
    if (!engine) return;
    this.engine = null;
    if (engine.renewTimer) clearTimeout(engine.renewTimer);
    if (engine.pullRetry) clearTimeout(engine.pullRetry);
    if (engine.pollTimer) clearInterval(engine.pollTimer);
    engine.watchAfterPull?.();
    for (const remove of engine.removers) remove();
    for (const watcher of engine.watchers) await watcher.close().catch((err: unknown) => this.noteError(err));
    await this.pulling?.catch(() => undefined);
    if (how.flush && engine.client.isOnline && engine.outbox.size > 0) {
      await withTimeout(engine.client.flush(), 5000);
    }
    await engine.storage.close();
    await engine.client.close();
    await engine.outbox.close();
    await engine.entryCache.close();
    if (!how.keepLocks) {
      for (const lock of engine.storeLocks) await lock.release();
      await engine.deviceLock.release();
    }
    this.logger.info('stopped syncing', { queued: engine.outbox.size });
  }

  private async onSignedOut(reason: SyncError): Promise<void> {
    if (this.signedOut) return;
    this.signedOut = true;
    this.lastError = { code: reason.code, message: reason.message };
    this.logger.warn('signed out', { reason: reason.message });
    await this.serial(() => this.stopEngine({ flush: false })).catch((err: unknown) => this.noteError(err));
    this.emit();
  }

  // ------------------------------------------------------------------ status

  private requireEngine(): Engine {
    if (this.engine) return this.engine;
    const state = this.current.state;
    throw new SyncError('DEVICE_NOT_SYNCING', `this process does not sync any store (${state})`, { state });
  }

  private noteUnrestorable(entries: readonly UnrestorableEntry[]): void {
    let added = false;
    for (const entry of entries) {
      const key = `${entry.source}/${entry.taskId}/${entry.stream}/${entry.key}`;
      if (this.unrestorable.has(key)) continue;
      this.unrestorable.set(key, entry);
      added = true;
      this.logger.error('a synced entry is missing from disk and neither the entry cache nor the relay has it', { ...entry });
    }
    if (added) this.emit();
  }

  /** Logs the tasks whose pulled changes wait for their files, each time that list changes. */
  private noteWaiting(engine: Engine, waiting: readonly WaitingTask[]): void {
    const key = waitingKey(waiting);
    if (key === (engine.waitingLogged ?? '')) return;
    engine.waitingLogged = key;
    for (const task of waiting) this.logger.warn('a task cannot be read: its pulled changes wait until its files are whole again', { ...task });
    if (waiting.length === 0) this.logger.info('every task reads again: no pulled change waits');
    this.emit();
  }

  private noteError(err: unknown): void {
    const code = codeOf(err);
    const message = err instanceof Error ? err.message : String(err);
    this.lastError = { code, message };
    this.logger.error(message, { code });
    this.emit();
  }

  private emit(): void {
    const next = this.computeStatus();
    if (JSON.stringify(next) === JSON.stringify(this.current)) return;
    this.current = next;
    this.statusListeners.emit(structuredClone(next));
  }

  private computeStatus(): DeviceStatus {
    const engine = this.engine;
    const creds = this.session?.credentials;
    const stores: DeviceStoreStatus[] = [
      ...(engine?.owned ?? []).map((s) => ({ source: s.source, basePath: s.basePath, role: 'syncing' as const })),
      ...this.followed,
    ];
    const queued = engine?.outbox.size ?? 0;
    let state: DeviceStatus['state'];
    if (this.closed) state = 'closed';
    else if (this.signedOut || !this.session) state = 'signed-out';
    else if (!engine) state = this.followed.length > 0 ? 'following' : 'connecting';
    else {
      const link = engine.client.status.state;
      if (link === 'online') state = this.busy > 0 || queued > 0 ? 'syncing' : 'synced';
      else state = link === 'offline' ? 'offline' : 'connecting';
    }
    return {
      state,
      queued,
      conflicts: engine?.storage.fileConflicts.length ?? 0,
      cursor: engine?.storage.cursor ?? 0,
      lastSyncAt: this.lastSyncAt,
      stores,
      unrestorable: [...this.unrestorable.values()],
      waiting: engine?.storage.waitingTasks ?? [],
      lastError: this.lastError,
      account: creds ? { email: creds.email, userId: creds.userId, deviceId: creds.deviceId, serverUrl: creds.serverUrl } : null,
    };
  }
}

function waitingKey(waiting: readonly WaitingTask[]): string {
  // Not the number of changes waiting: each one received for such a task would log them all again.
  return waiting.map((w) => `${w.source}/${w.taskId}:${w.code}`).join(' ');
}

function holderOf(err: SyncError): LockHolder | undefined {
  return lockHolderOf(err) ?? undefined;
}

function codeOf(err: unknown): string {
  return isSyncError(err) ? err.code : 'INTERNAL';
}

function definedOnly<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

async function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
