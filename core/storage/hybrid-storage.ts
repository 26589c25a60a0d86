/**
 * HybridStorage: a device's sync engine. It joins the assistants' local task stores (and
 * synced workspace folders) with the relay: local changes are detected against the sync
 * state, queued durably in the outbox and pushed; remote changes are pulled from the cursor
 * and applied with the data-keeping rules of DESIGN.md (no echo, a stale rewrite is not a
 * deletion, empty is not a deletion, the cursor advances only after applying).
 *
 * Every port is injected. One operation runs at a time (a queue), so detection never sees a
 * half-applied remote change. After any failed operation the sync state is reloaded from its
 * store before the next one, so memory never runs ahead of what was persisted.
 */
import { SyncError, isSyncError } from '../errors';
import type { DeviceId, TaskId } from '../ids';
import { ConflictResolver } from '../merge/conflict-resolver';
import { compareHlc, HybridLogicalClock } from '../model/hlc';
import type { EntryKey, HlcStamp, ServerChange, StreamName, TaskSource } from '../model/changes';
import type { BlobStore } from '../ports/blob-store';
import type { RemoteEntries } from '../ports/remote-entries';
import type { Outbox } from '../ports/outbox';
import type { SyncTransport } from '../ports/sync-transport';
import type { TaskSnapshot, TaskStore } from '../ports/task-store';
import type { ChangeConflict } from '../protocol/messages';
import { detectFileChanges } from './file-sync';
import { checkIntegrity, type IntegrityReport } from './integrity';
import { findUnsent, notePending, requeueUnsent, type OutboxRecoveryReport } from './outbox-recovery';
import { applyPage, applyReported, pullAll, replayJournal, type PullReport } from './pull-cycle';
import { waitingTasks, type WaitingTask } from './task-defer';
import { pushPending, resolveConflicts, type PushReport } from './push-cycle';
import { StorageErrorCode } from './storage-errors';
import { liveEntryHashes } from './entry-cache';
import type { EntryHashSet } from './entry-cache-index';
import { loadSyncState, taskStateKey, type FileConflictRecord, type SyncState, type SyncStateStore } from './sync-state';
import type { EngineDeps, SyncContext, TaskCopyMade } from './sync-context';
import { detectTaskChanges, type PlannedChange } from './task-detect';
import { restoreMissingTask } from './task-restore';
import { Listeners } from '../client/listeners';
import type { WorkspaceFiles } from './workspace-files';

export interface HybridStorageOptions {
  deviceId: DeviceId;
  /** One task store per assistant (source). */
  stores: readonly TaskStore[];
  outbox: Outbox;
  transport: SyncTransport;
  stateStore: SyncStateStore;
  /** Content-addressed file contents shared through the relay (`/v1/blobs`). */
  blobs: BlobStore;
  /** Local cache of stream entries by hash (restores what a stale rewrite dropped). */
  entryCache: BlobStore;
  /** The relay's copy of synced entries, asked for what `entryCache` lacks. Default none. */
  remoteEntries?: RemoteEntries;
  /** Synced workspace folders. Default none. */
  workspaces?: readonly WorkspaceFiles[];
  /** Wall clock in ms. Default Date.now. */
  now?: () => number;
  /** Default: a clock of this device over `now`. */
  clock?: HybridLogicalClock;
  /** Default: a ConflictResolver of this device. */
  resolver?: ConflictResolver;
  /** Changes per pull page. Default 500. */
  pullPageSize?: number;
  /**
   * Changes pulled (in pages) before they are applied together when the device is behind: each
   * task is then read and written once per batch, not per page. Default 5,000.
   */
  pullApplyBatch?: number;
  /** Changes per push. Default 500. */
  pushBatchSize?: number;
  /** Push rounds that may end in conflicts before the rest waits for the next sync. Default 5. */
  maxConflictRounds?: number;
}

export interface SyncToCloudReport extends PushReport {
  /** Changes detected and queued by this call. */
  queued: number;
  /** Tasks whose files could not be read (left alone), with the error code and, when known, the file and why. */
  unreadable: Array<{ source: TaskSource; taskId: string; code: string; path?: string; reason?: string }>;
  /** Synced entries a stale rewrite or a lost folder dropped that nothing could restore. */
  unrestorable: UnrestorableEntry[];
  /** Synced tasks missing from their store that were written back. */
  restored: number;
}

/** A synced entry that should be on disk and that neither the entry cache nor the relay holds. */
export interface UnrestorableEntry {
  source: TaskSource;
  taskId: string;
  stream: StreamName;
  key: EntryKey;
  /** The version's content hash (sha256 of its JSON text). */
  hash: string;
}

export interface SyncToCloudOptions {
  /** Only these tasks (default: every task of every store). */
  tasks?: ReadonlyArray<{ source: TaskSource; taskId: TaskId }>;
  /** Scan the workspaces too. Default true. */
  files?: boolean;
}

/** Tries of one operation that keeps meeting task files rewritten under it (STORE_CHANGED). */
const MAX_STORE_CHANGED_RETRIES = 5;

/** What a detection found besides changes (filled in by detectAndQueue). */
type DetectFindings = Pick<SyncToCloudReport, 'unreadable' | 'unrestorable' | 'restored'>;

interface DetectAndQueueOptions {
  /** Filled in with what was found besides changes. */
  found?: DetectFindings;
  /** Scan the workspaces too. Default false. */
  withFiles?: boolean;
  /** The targets' files, read ahead (same order); default: read each target now. */
  reads?: readonly TaskRead[];
  /** Hold the targets' states (SyncState.hold) until their changes are queued: saves may run meanwhile. */
  hold?: boolean;
  /** Keep new entries in the entry cache (default true; see task-detect's DetectOptions). */
  cacheEntries?: boolean;
}

export type SyncFromCloudReport = PullReport & { pushed: PushReport };

/** What one `syncRound` did: every push of the round and every pull, added up. */
export interface SyncRoundReport {
  /** Local changes detected and queued, and what the round's pushes did. */
  pushed: SyncToCloudReport;
  /** What the round's pulls applied. */
  pulled: PullReport;
}

export interface MigrationProgress {
  /** `scan`: a slice was detected and queued; `push`: that slice was pushed. */
  phase: 'scan' | 'push';
  /** Tasks detected so far (of `total`). */
  done: number;
  total: number;
  /** The tasks of the slice just finished (in order). */
  slice: ReadonlyArray<{ source: TaskSource; taskId: TaskId }>;
  /** Changes queued and acknowledged so far by this call. */
  queued: number;
  accepted: number;
}

export interface MigrationOptions {
  /** Only these tasks, in this order (default: every task of every store), with their files' size when known. */
  tasks?: ReadonlyArray<{ source: TaskSource; taskId: TaskId; bytes?: number }>;
  /** Most tasks in a slice (three slices are in memory at once: read ahead, detected, pushed). Default 50. */
  sliceTasks?: number;
  /** Most bytes of task files in a slice, counted with `tasks`' sizes (a bigger task goes alone). Default: no bound. */
  sliceBytes?: number;
  onProgress?: (progress: MigrationProgress) => void;
  /** Stops after the slice in flight (everything done so far is durable; a rerun resumes). */
  signal?: AbortSignal;
}

export interface MigrationReport {
  tasks: number;
  queued: number;
  pushed: PushReport;
  /** Tasks whose files could not be read (left alone), with the code and the file. */
  unreadable: SyncToCloudReport['unreadable'];
  /** True when `signal` stopped it before the last slice. */
  aborted: boolean;
}

export class HybridStorage {
  private readonly deps: EngineDeps;
  private state: SyncState;
  private queue: Promise<unknown> = Promise.resolve();
  private needsReload = false;
  private closed = false;
  private readonly clock: HybridLogicalClock;
  private readonly unrestorableListeners = new Listeners<[UnrestorableEntry[]]>();
  private readonly taskCopyListeners = new Listeners<[TaskCopyMade]>();
  private recovery: OutboxRecoveryReport = { checked: false, unacknowledged: 0, missing: 0, tasks: 0, workspaces: 0, queued: 0 };

  private constructor(
    private readonly options: HybridStorageOptions,
    state: SyncState,
  ) {
    this.state = state;
    const now = options.now ?? Date.now;
    this.clock = options.clock ?? new HybridLogicalClock(options.deviceId, now);
    const self = this;
    const ctx: SyncContext = {
      deviceId: options.deviceId,
      get state() {
        return self.state;
      },
      entryCache: options.entryCache,
      remoteEntries: options.remoteEntries,
      blobs: options.blobs,
      now,
      stamp: () => {
        const stamp = self.clock.now();
        self.noteStamp(stamp);
        return stamp;
      },
      observe: (stamp) => {
        try {
          self.clock.receive(stamp);
          self.noteStamp(stamp);
        } catch {
          // A malformed stamp from a peer orders as text; it cannot move our clock.
        }
      },
    };
    const stores = new Map(options.stores.map((s) => [s.source, s]));
    const workspaces = new Map((options.workspaces ?? []).map((w) => [w.workspaceId as string, w]));
    this.deps = {
      ctx,
      outbox: options.outbox,
      transport: options.transport,
      resolver: options.resolver ?? new ConflictResolver({ deviceId: options.deviceId }),
      stores: options.stores,
      storeFor: (source) => stores.get(source),
      workspaces: options.workspaces ?? [],
      workspaceFor: (id) => workspaces.get(id),
      saveState: () => self.state.saveTo(options.stateStore),
      taskCopyMade: (copy) => self.taskCopyListeners.emit(copy),
    };
  }

  /**
   * Loads the sync state and finishes a page a crash cut short (its journal), so the stores and
   * the state agree before anything else runs. When the outbox is not the journal the state
   * last queued into (see Outbox.journalId), changes the state tracks as queued that the outbox
   * lacks are queued again (see outbox-recovery and `outboxRecovery`).
   */
  static async open(options: HybridStorageOptions): Promise<HybridStorage> {
    const storage = new HybridStorage(options, await loadSyncState(options.stateStore));
    await storage.recover();
    await storage.recoverOutbox();
    return storage;
  }

  /** What opening found about the outbox: whether it checked, what was missing, what it queued again. */
  get outboxRecovery(): OutboxRecoveryReport {
    return { ...this.recovery };
  }

  /** Highest log seq applied here. */
  get cursor(): number {
    return this.state.cursor;
  }

  /**
   * True once a pull has reached the head of the log. Before that, a detection would take what
   * the stores already hold of the relay's tasks (a backfill, a copy) for local edits: pages not
   * pulled yet are what shows it is the relay's own (task-adopt). See `syncRound`, and SyncDevice,
   * whose watchers wait for it.
   */
  get caughtUp(): boolean {
    return this.state.caughtUp;
  }

  /** Changes queued and not yet acknowledged. */
  get pendingCount(): number {
    return this.options.outbox.size;
  }

  /** File conflicts that needed a conflict copy (newest last). */
  get fileConflicts(): readonly FileConflictRecord[] {
    return this.state.conflicts;
  }

  /**
   * Calls `listener` with the synced entries a detection found missing from disk and could not
   * restore (neither the entry cache nor the relay had them). Returns its remover.
   */
  onUnrestorable(listener: (entries: UnrestorableEntry[]) => void): () => void {
    return this.unrestorableListeners.add(listener);
  }

  /**
   * Calls `listener` for each task conflict copy a pull writes (two devices changed a task
   * without seeing each other's version; this one's is kept as a new task). Returns its remover.
   */
  onTaskConflictCopy(listener: (copy: TaskCopyMade) => void): () => void {
    return this.taskCopyListeners.add(listener);
  }

  /** Calls `listener` when the relay reports changes from other devices (then call syncFromCloud). */
  onRemoteChanges(listener: (count: number) => void): () => void {
    return this.options.transport.onLiveChanges((changes) => listener(changes.length));
  }

  /**
   * Writes a task stream through the assistant's store (creating the task when new) and queues
   * the resulting changes; `syncToCloud` pushes them.
   */
  async saveMessages(source: TaskSource, taskId: TaskId, stream: StreamName, entries: readonly unknown[]): Promise<void> {
    await this.run(async () => {
      const store = this.storeOf(source);
      const before = await store.readTask(taskId);
      const snapshot: TaskSnapshot = before ?? { source, taskId, ui: [], api: [], historyItem: null };
      const next = { ...snapshot, [stream]: [...entries] };
      await store.writeTask(next);
      await this.detectAndQueue([{ store, taskId }]);
    });
  }

  /** The entries of a task stream as the store holds them ([] when the task does not exist). */
  async loadMessages(source: TaskSource, taskId: TaskId, stream: StreamName): Promise<unknown[]> {
    return this.run(async () => (await this.storeOf(source).readTask(taskId))?.[stream] ?? []);
  }

  /** Deletes a task on purpose: a tombstone every device applies (an absence never deletes). */
  async deleteTask(source: TaskSource, taskId: TaskId): Promise<void> {
    await this.run(async () => {
      const store = this.storeOf(source);
      const task = this.state.task(source, taskId);
      const clock = this.deps.ctx.stamp();
      await this.options.outbox.enqueue([{ body: { type: 'task.delete', source, taskId, clock }, baseSeq: task.metaSeq || null }]);
      task.deleted = clock;
      this.state.markDirty(task);
      await this.deps.saveState();
      await store.deleteTask(taskId);
    });
  }

  /**
   * Detects local changes, queues them durably, and pushes the outbox. By default every task of
   * every store and every workspace is compared; a watcher that knows what changed passes
   * `tasks` (only those) and `files: false` to skip the workspace scan.
   */
  async syncToCloud(options: SyncToCloudOptions = {}): Promise<SyncToCloudReport> {
    return this.run(async () => {
      const detected = await this.detectLocal(options);
      const pushed = await pushPending(this.deps, this.batchSize, this.maxConflictRounds);
      return { ...pushed, ...detected };
    });
  }

  /**
   * One full round, as `sync --once` and "Sync now" run it: every local change detected, queued
   * and pushed, everything after the cursor pulled and applied, then what the round queued itself
   * (conflicts it settled, conflict copies of concurrent writes) pushed, so it ends with nothing
   * left to send. A device that has not caught up yet (new, its sync state lost, or its first
   * pull cut short) pulls first, so that what its stores already hold of the relay's tasks (a
   * backfill, a copy from another machine) is recognised (task-adopt) instead of being sent back
   * as local edits.
   * Throws STORAGE_SYNC_FAILED when the relay cannot be reached (what was detected stays queued).
   */
  async syncRound(): Promise<SyncRoundReport> {
    return this.run(async () => {
      const pushes: PushReport[] = [];
      const pulls: PullReport[] = [];
      const pushAll = async (): Promise<void> => {
        pushes.push(await pushPending(this.deps, this.batchSize, this.maxConflictRounds));
      };
      if (!this.state.caughtUp) {
        await pushAll();
        pulls.push(await this.pullEverything());
      }
      const detected = await this.detectLocal({});
      await pushAll();
      pulls.push(await this.pullEverything());
      if (this.options.outbox.size > 0) await pushAll();
      return { pushed: { ...sumPushes(pushes), ...detected }, pulled: sumPulls(pulls) };
    });
  }

  /** syncToCloud's detection: the tasks (default every one) and workspaces compared and queued. */
  private async detectLocal(options: SyncToCloudOptions): Promise<Omit<SyncToCloudReport, keyof PushReport>> {
    const found: DetectFindings = { unreadable: [], unrestorable: [], restored: 0 };
    const targets: Array<{ store: TaskStore; taskId: TaskId }> = [];
    if (options.tasks) {
      for (const { source, taskId } of options.tasks) targets.push({ store: this.storeOf(source), taskId });
    } else {
      for (const store of this.options.stores) targets.push(...(await this.everyTaskOf(store)));
    }
    // A task whose pulled changes wait for its files (task-defer) takes them first, once it
    // reads again (a watcher saw it rewritten): detection then starts from them.
    if (targets.some(({ store, taskId }) => this.state.waiting.has(taskStateKey(store.source, taskId)))) {
      await applyPage(this.deps, { changes: [], cursor: this.state.cursor });
    }
    const queued = await this.detectAndQueue(targets, { found, withFiles: options.files ?? true });
    return { queued, ...found };
  }

  /**
   * Pushes what is queued (so no queued change is in doubt), then pulls every page after the
   * cursor and applies it.
   */
  async syncFromCloud(): Promise<SyncFromCloudReport> {
    return this.run(async () => {
      const pushed = await pushPending(this.deps, this.batchSize, this.maxConflictRounds);
      const pulled = await this.pullEverything();
      return { ...pulled, pushed };
    });
  }

  /** Every page after the cursor, in pages of `pullPageSize`, applied in batches of `pullApplyBatch`. */
  private pullEverything(): ReturnType<typeof pullAll> {
    return pullAll(this.deps, this.options.pullPageSize ?? 500, this.options.pullApplyBatch ?? 5000);
  }

  /**
   * Applies changes the relay sent live (after committing them). When they continue the log
   * right after the cursor (seqs cursor+1, cursor+2, ... with no gap) they are applied as a
   * pulled page would be, without asking the relay again; otherwise (a change of this device or
   * a lost page in between) everything after the cursor is pulled. Pushes what is queued first,
   * as syncFromCloud does.
   */
  async applyLiveChanges(changes: readonly ServerChange[]): Promise<SyncFromCloudReport> {
    return this.run(async () => {
      const pushed = await pushPending(this.deps, this.batchSize, this.maxConflictRounds);
      const cursor = this.state.cursor;
      const fresh = changes.filter((c) => c.seq > cursor).sort((a, b) => a.seq - b.seq);
      if (fresh.length === 0) return { applied: 0, received: 0, pages: 0, refusedPaths: [], waiting: waitingTasks(this.state), pushed };
      if (fresh.every((c, i) => c.seq === cursor + 1 + i)) {
        return { ...(await applyReported(this.deps, fresh, fresh[fresh.length - 1]!.seq)), pushed };
      }
      const pulled = await this.pullEverything();
      return { ...pulled, pushed };
    });
  }

  /**
   * Pulls the whole log again at the next syncFromCloud (the relay's welcome says `resync` when
   * it compacted changes this device never saw). Applying is idempotent, so nothing doubles.
   */
  async resync(): Promise<void> {
    await this.run(async () => {
      this.state.cursor = 0;
      await this.deps.saveState();
    });
  }

  /** Settles conflicts the relay returned for queued changes (RooCloudClient's drain reports them). */
  async resolveConflicts(conflicts: readonly ChangeConflict[]): Promise<void> {
    await this.run(() => resolveConflicts(this.deps, conflicts));
  }

  /**
   * First upload of a device's existing history, streamed: changes left queued by an earlier
   * run are pushed first, then the tasks go through three stages one slice at a time, each
   * slice one stage behind the next: while slice i-1 is pushed, slice i is detected and
   * queued, and slice i+1 is read (parsed and hashed; reading changes nothing). So the device
   * reads and hashes while the relay stores, and the outbox never holds more than two slices:
   * memory does not grow with the store. A slice's task states are held while it is detected
   * (SyncState.hold), so a save made meanwhile (a push reply settled) never records a change
   * as queued that the outbox does not hold yet. The uploaded entries are not put in the entry
   * cache (the relay holds them; a restore fetches them from it). The sync state is saved after
   * each step: a run cut short (Ctrl-C, kill, lost network) resumes where it stopped, and a
   * rerun queues nothing new. A push that fails throws STORAGE_SYNC_FAILED with its changes
   * still queued (after the detection in progress has finished).
   */
  async migrateLocalTasksToCloud(options: MigrationOptions | ((progress: MigrationProgress) => void) = {}): Promise<MigrationReport> {
    const opts: MigrationOptions = typeof options === 'function' ? { onProgress: options } : options;
    return this.run(async () => {
      const targets: Array<{ store: TaskStore; taskId: TaskId }> = [];
      if (opts.tasks) {
        for (const { source, taskId } of opts.tasks) targets.push({ store: this.storeOf(source), taskId });
      } else {
        for (const store of this.options.stores) for (const taskId of await store.listTaskIds()) targets.push({ store, taskId });
      }
      const found: DetectFindings = { unreadable: [], unrestorable: [], restored: 0 };
      const pushed: PushReport = { accepted: 0, conflicts: 0, unresolved: 0 };
      const pushAll = async (): Promise<void> => {
        while (this.options.outbox.size > 0) {
          const before = this.options.outbox.size;
          const round = await pushPending(this.deps, this.batchSize, this.maxConflictRounds);
          pushed.accepted += round.accepted;
          pushed.conflicts += round.conflicts;
          pushed.unresolved = round.unresolved;
          if (this.options.outbox.size >= before) break;
        }
      };
      const slices = planSlices(targets.length, (i) => opts.tasks?.[i]?.bytes ?? 0, Math.max(1, opts.sliceTasks ?? 50), opts.sliceBytes ?? Infinity);
      const sliceAt = (k: number) => targets.slice(slices[k]!.start, slices[k]!.end);
      let queued = 0;
      let aborted = false;
      let pushing = handled(pushAll());
      /** The slice being pushed, reported once its push has finished. */
      let inPush: { ids: MigrationProgress['slice']; done: number } | null = null;
      let reading = slices.length > 0 ? handled(readTasks(sliceAt(0))) : null;
      const finishPush = async (): Promise<void> => {
        await pushing;
        // The pushed slice's task states are saved: keep only a working set in memory.
        this.state.trim();
        if (inPush) opts.onProgress?.({ phase: 'push', done: inPush.done, total: targets.length, slice: inPush.ids, queued, accepted: pushed.accepted });
        inPush = null;
      };
      try {
        for (let k = 0; k < slices.length; k++) {
          if (opts.signal?.aborted) {
            aborted = true;
            break;
          }
          const slice = sliceAt(k);
          const reads = await reading!;
          reading = k + 1 < slices.length ? handled(readTasks(sliceAt(k + 1))) : null;
          queued += await this.detectAndQueue(slice, { found, reads, hold: true, cacheEntries: false });
          const done = slices[k]!.end;
          const ids = idsOf(slice);
          opts.onProgress?.({ phase: 'scan', done, total: targets.length, slice: ids, queued, accepted: pushed.accepted });
          await finishPush();
          pushing = handled(pushAll());
          inPush = { ids, done };
        }
        await finishPush();
      } finally {
        // Nothing is left running after a failure: the read ahead and the push in flight end first.
        await reading?.catch(() => undefined);
        await pushing.catch(() => undefined);
      }
      return { tasks: targets.length, queued, pushed, unreadable: found.unreadable, aborted };
    });
  }

  /**
   * Tasks whose pulled changes wait because their files cannot be read (a corrupt file), with
   * why and how many: applied once the files read again (core/storage/task-defer.ts).
   */
  get waitingTasks(): WaitingTask[] {
    return waitingTasks(this.state);
  }

  /** Task sync states held in memory now (the rest are read from the state store when used). */
  get tasksInMemory(): number {
    return this.state.tasksInMemory;
  }

  /** Every entry hash the sync state names: what the entry cache must keep (see liveEntryHashes). */
  async entryHashesInUse(): Promise<EntryHashSet> {
    return this.run(async () => liveEntryHashes(this.state));
  }

  /** Compares stores, workspace files, sync state, hashes and caches; reports problems by code. */
  async validateDataIntegrity(): Promise<IntegrityReport> {
    return this.run(() => checkIntegrity(this.deps));
  }

  /** Stops accepting calls and waits for the running one. Closes nothing it was given. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue.catch(() => undefined);
  }

  // ------------------------------------------------------------------ internals

  private get batchSize(): number {
    return this.options.pushBatchSize ?? 500;
  }

  private get maxConflictRounds(): number {
    return this.options.maxConflictRounds ?? 5;
  }

  /** Every task of a store: its task folders, and the synced tasks whose folder is gone. */
  private async everyTaskOf(store: TaskStore): Promise<Array<{ store: TaskStore; taskId: TaskId }>> {
    const ids = new Set<string>(await store.listTaskIds());
    for (const task of this.state.allTasks()) if (task.source === store.source && task.deleted === null) ids.add(task.taskId);
    return [...ids].map((taskId) => ({ store, taskId: taskId as TaskId }));
  }

  private storeOf(source: TaskSource): TaskStore {
    const store = this.deps.storeFor(source);
    if (!store) throw new SyncError(StorageErrorCode.UNKNOWN_SOURCE, `no task store for ${source}`, { source });
    return store;
  }

  private noteStamp(stamp: HlcStamp): void {
    if (this.state.clock === null || compareHlc(stamp, this.state.clock) > 0) this.state.clock = stamp;
  }

  /**
   * Runs one operation after the previous one; reloads the state first when one failed. An
   * operation that met a task file the assistant rewrote meanwhile (STORE_CHANGED) runs again.
   */
  private run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new SyncError(StorageErrorCode.CLOSED, 'HybridStorage is closed'));
    const result = this.queue.then(async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          if (this.needsReload) {
            this.state = await loadSyncState(this.options.stateStore);
            this.needsReload = false;
            await this.recover();
          }
          const value = await operation();
          this.state.trim();
          return value;
        } catch (err) {
          this.needsReload = true;
          // The assistant rewrote a task file while it was being merged (nothing was written
          // over it): read and merge again, from the state as saved.
          if (isSyncError(err, 'STORE_CHANGED') && attempt < MAX_STORE_CHANGED_RETRIES) continue;
          throw err;
        }
      }
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Records in the state what its own journal queued after the last save (see notePending), then
   * re-applies a journaled page (a crash cut it short) and advances the cursor past it.
   */
  private async recover(): Promise<void> {
    if (this.state.clock) this.deps.ctx.observe(this.state.clock);
    if (this.outboxIsStateJournal() && notePending(this.state, this.options.outbox.pending()) > 0) {
      await this.deps.saveState();
    }
    const journal = this.state.journal;
    if (!journal) return;
    await replayJournal(this.deps, journal);
    // (Unless the state asked for everything again: its waiting changes were missing.)
    if (!this.state.pullFromStart) this.state.cursor = Math.max(this.state.cursor, journal.cursor);
    this.state.journal = null;
    await this.deps.saveState();
  }

  /** The outbox is the journal the state last queued into (both name the same journal id). */
  private outboxIsStateJournal(): boolean {
    const journalId = this.options.outbox.journalId ?? null;
    return journalId !== null && this.state.outboxId === journalId;
  }

  /**
   * Queues again what the state tracks as queued and the outbox lacks, unless the outbox is the
   * journal the state last queued into (then it holds them: no check, no disk read). Runs before
   * any pull, so a remote change never overwrites a lost local one unseen.
   */
  private async recoverOutbox(): Promise<void> {
    const outbox = this.options.outbox;
    if (this.outboxIsStateJournal()) return;
    const journalId = outbox.journalId ?? null;
    const unsent = findUnsent(this.state, this.options.deviceId, outbox.pending());
    const report: OutboxRecoveryReport = { checked: true, unacknowledged: unsent.unacknowledged, missing: unsent.missing, tasks: 0, workspaces: 0, queued: 0 };
    this.state.outboxId = journalId;
    if (unsent.missing > 0) {
      const requeue = await requeueUnsent(this.deps, unsent);
      report.tasks = requeue.tasks;
      report.workspaces = requeue.workspaces;
      report.queued = requeue.planned.length;
      // Queued before the state names the new journal: a crash in between checks again.
      if (requeue.planned.length > 0) await outbox.enqueue(requeue.planned);
      await this.deps.saveState();
      for (const { store, snapshot } of requeue.rewrites) await store.writeTask(snapshot);
    } else {
      // Name the journal now, before anything is queued into it: a crash after the first queueing
      // and before the state is next saved then finds those changes noted from the journal
      // (recover/notePending) instead of detecting and queueing them a second time.
      await this.deps.saveState();
    }
    this.recovery = report;
  }

  /**
   * Detects changes of the given tasks (and, when `withFiles`, every workspace), queues them
   * durably, saves the state, then writes back entries a stale rewrite lost.
   */
  private async detectAndQueue(targets: ReadonlyArray<{ store: TaskStore; taskId: TaskId }>, options: DetectAndQueueOptions = {}): Promise<number> {
    const { found = { unreadable: [], unrestorable: [], restored: 0 }, withFiles = false, reads, cacheEntries = true } = options;
    const held = options.hold ? idsOf(targets) : [];
    this.state.hold(held);
    try {
      return await this.detectAndQueueHeld(targets, found, withFiles, reads, cacheEntries, held);
    } finally {
      this.state.release(held);
    }
  }

  /** detectAndQueue's work; the `held` tasks are released once their changes are in the outbox, before the state is saved. */
  private async detectAndQueueHeld(
    targets: ReadonlyArray<{ store: TaskStore; taskId: TaskId }>,
    found: DetectFindings,
    withFiles: boolean,
    reads: readonly TaskRead[] | undefined,
    cacheEntries: boolean,
    held: ReadonlyArray<{ source: TaskSource; taskId: TaskId }>,
  ): Promise<number> {
    const planned: PlannedChange[] = [];
    const rewrites: Array<{ store: TaskStore; snapshot: TaskSnapshot }> = [];
    const unrestorable: UnrestorableEntry[] = [];
    for (const [index, { store, taskId }] of targets.entries()) {
      const source = store.source;
      let snapshot: TaskSnapshot | null;
      try {
        const read = reads?.[index];
        if (read && 'error' in read) throw read.error;
        snapshot = read ? read.snapshot : await store.readTask(taskId);
      } catch (err) {
        // A corrupt file is left as it is (never rewritten with less); integrity reports it.
        if (!(err instanceof SyncError && err.code.startsWith('STORE_'))) throw err;
        const details = err.details ?? {};
        found.unreadable.push({
          source,
          taskId,
          code: err.code,
          ...(typeof details['path'] === 'string' ? { path: details['path'] } : {}),
          ...(typeof details['reason'] === 'string' ? { reason: details['reason'] } : {}),
        });
        continue;
      }
      if (!snapshot) {
        // An absence is not a deletion: a synced task whose folder is gone is written back.
        const synced = this.state.getTask(source, taskId);
        if (!synced) continue;
        const restore = await restoreMissingTask(this.deps.ctx, synced);
        for (const entry of restore.unrestorable) unrestorable.push({ source, taskId, ...entry });
        if (restore.snapshot) {
          rewrites.push({ store, snapshot: restore.snapshot });
          found.restored++;
        }
        continue;
      }
      let detected;
      try {
        detected = await detectTaskChanges(this.deps.ctx, snapshot, this.state.task(source, taskId), { cacheEntries });
      } catch (err) {
        // Entries that cannot be keyed (STREAM_ENTRY_INVALID): leave the task alone, report it.
        if (!isSyncError(err, 'STREAM_ENTRY_INVALID')) throw err;
        found.unreadable.push({ source, taskId, code: err.code });
        continue;
      }
      planned.push(...detected.changes);
      if (detected.rewrite) rewrites.push({ store, snapshot: detected.rewrite });
      for (const entry of detected.unrestorable) unrestorable.push({ source, taskId, ...entry });
    }
    if (unrestorable.length > 0) {
      found.unrestorable.push(...unrestorable);
      this.unrestorableListeners.emit(unrestorable);
    }
    if (withFiles) for (const files of this.deps.workspaces) planned.push(...(await detectFileChanges(this.deps.ctx, files)));
    if (planned.length === 0 && rewrites.length === 0) return 0;
    if (planned.length > 0) await this.options.outbox.enqueue(planned);
    this.state.release(held);
    await this.deps.saveState();
    for (const { store, snapshot } of rewrites) await store.writeTask(snapshot);
    return planned.length;
  }
}

/** One task's files as read ahead of its detection: the snapshot (null: no task folder), or why it could not be read. */
type TaskRead = { snapshot: TaskSnapshot | null } | { error: unknown };

/**
 * Reads each task's files in turn for a migration (reading changes nothing: neither the store
 * nor the sync state). `forUpload`: the entries are queued and let go, so the store may note
 * their JSON for the outbox and the push (core/model/change-json.ts).
 */
async function readTasks(targets: ReadonlyArray<{ store: TaskStore; taskId: TaskId }>): Promise<TaskRead[]> {
  const reads: TaskRead[] = [];
  for (const { store, taskId } of targets) {
    try {
      reads.push({ snapshot: await store.readTask(taskId, { forUpload: true }) });
    } catch (error) {
      reads.push({ error });
    }
  }
  return reads;
}

/** The tasks' ids. */
function idsOf(targets: ReadonlyArray<{ store: TaskStore; taskId: TaskId }>): Array<{ source: TaskSource; taskId: TaskId }> {
  return targets.map(({ store, taskId }) => ({ source: store.source, taskId }));
}

/** `work`, started now and awaited later: a rejection meanwhile is not reported as unhandled. */
function handled<T>(work: Promise<T>): Promise<T> {
  work.catch(() => undefined);
  return work;
}

/**
 * Cuts `count` tasks, in order, into slices of at most `maxTasks` tasks and at most `maxBytes`
 * bytes of task files (`bytesOf`), except that a task bigger than `maxBytes` makes a slice alone.
 */
export function planSlices(count: number, bytesOf: (index: number) => number, maxTasks: number, maxBytes: number): Array<{ start: number; end: number }> {
  const slices: Array<{ start: number; end: number }> = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const size = bytesOf(i);
    if (i > start && (i - start >= maxTasks || bytes + size > maxBytes)) {
      slices.push({ start, end: i });
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  if (count > start) slices.push({ start, end: count });
  return slices;
}

function sumPushes(reports: readonly PushReport[]): PushReport {
  const sum: PushReport = { accepted: 0, conflicts: 0, unresolved: 0 };
  for (const r of reports) {
    sum.accepted += r.accepted;
    sum.conflicts += r.conflicts;
  }
  // Conflicts left for later: what the last push could not settle.
  sum.unresolved = reports[reports.length - 1]?.unresolved ?? 0;
  return sum;
}

function sumPulls(reports: readonly PullReport[]): PullReport {
  const sum: PullReport = { applied: 0, received: 0, pages: 0, refusedPaths: [], waiting: [] };
  for (const r of reports) {
    sum.applied += r.applied;
    sum.received += r.received;
    sum.pages += r.pages;
    sum.refusedPaths.push(...r.refusedPaths);
  }
  // What waits after the last pull.
  sum.waiting = reports[reports.length - 1]?.waiting ?? [];
  return sum;
}
