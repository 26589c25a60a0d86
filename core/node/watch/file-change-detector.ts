/**
 * File-change detection over one folder: a chokidar watcher whose events are debounced into
 * batches of changed and removed paths, plus a full rescan at start against the manifest saved
 * last time, so changes made while nothing ran are found too.
 *
 * Every candidate path is checked against the disk before it is reported: a file rewritten
 * with the same content (the assistants rewrite whole files) is not a change (with `check:
 * 'stat'`, a file whose size, mtime and inode are unchanged), and a file that appeared and
 * vanished within one debounce window is not reported at all. Scanning and hashing reuse
 * `scanWorkspace` (core/node/tracking).
 *
 * The debounce is short (20 ms) because the assistants write a file whole, through a temp file
 * and a rename under `<file>.lock`: a batch never sees half a file. While a folder of a pending
 * path holds a live `.lock` (the assistant is between its files), the batch waits for it, up to
 * `maxWaitMs`. chokidar drops a second change of one path within 50 ms of the first (its
 * throttle), and after an atomic replace it can miss the next replace of the same file for
 * good (seen with two devices: a message written ~80 ms after the previous one never raised an
 * event). So the paths of every batch are checked again on a widening ladder (`recheckMs`, then
 * 4x, 16x and 50x that: 60 ms, 240 ms, 960 ms, 3 s by default), each a stat; a change found
 * starts the ladder over. A rewrite whose event was lost is reported within seconds.
 *
 * Delivery is at least once: the manifest takes a batch in only after every listener has
 * finished with it, so a batch whose listener failed (or a process that died meanwhile) is
 * reported again later.
 */
import { watch, type FSWatcher } from 'chokidar';
import { promises as fsp } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { SyncError, isSyncError } from '../../errors';
import type { ManifestEntry } from '../../tracking/manifest';
import { scanWorkspace, type ScanProblem } from '../tracking/scan-workspace';
import { isAssistantScratch, isBeyondDepth } from './watch-ignores';
import { loadWatchManifest, saveWatchManifest } from './watch-manifest-file';

/** Paths (relative to the root, '/'-separated, sorted) that changed or disappeared. */
export interface FileBatch {
  changed: string[];
  removed: string[];
}

/** Called with each batch; a returned promise is awaited before the batch counts as delivered. */
export type FileBatchListener = (batch: FileBatch) => void | Promise<void>;

export interface FileChangeDetectorOptions {
  /** Quiet time after the last event before a batch is emitted (default 20 ms). */
  debounceMs?: number;
  /** Longest a pending event waits while events keep coming (default 2000 ms). */
  maxWaitMs?: number;
  /** More paths to leave out (relative, '/'-separated; called for folders and files). */
  ignore?: (relPath: string) => boolean;
  /** Levels of subfolders to descend (0: the root's own files only); default unlimited. */
  depth?: number;
  /**
   * Leave out the assistants' temp/lock files, checkpoints/ and command-output/ (default false:
   * in a workspace `yarn.lock` or a `checkpoints/` folder are the user's files; task stores set it).
   */
  ignoreAssistantScratch?: boolean;
  /**
   * Where the manifest is kept between runs (a small JSON file this module owns). Without it
   * nothing is remembered and the first rescan reports every file as changed.
   */
  statePath?: string;
  /**
   * Start as if nothing was saved at `statePath` (it is replaced at the next save): the start
   * rescan reports every file. For a listener whose own record of the files is gone (a device
   * whose sync state was lost), for which a manifest of what it saw before tells the wrong story.
   */
  forgetSavedState?: boolean;
  /**
   * `hash` (default): the start rescan hashes every file. `stat`: it reuses the saved hash of
   * files whose size and mtime are unchanged (much faster on large stores).
   */
  rescan?: 'hash' | 'stat';
  /** Least time between two saves of the state file (default 2000 ms; close() always saves). */
  saveIntervalMs?: number;
  /**
   * How a file named by an event is compared with its last state: `hash` (default) reads and
   * hashes it; `stat` compares size, mtime and inode only (for listeners that read the file
   * anyway: the task-store watcher).
   */
  check?: 'hash' | 'stat';
  /** Wait while a folder of a pending path holds a live `*.lock` folder (default: ignoreAssistantScratch). */
  lockAware?: boolean;
  /** First step of the recheck ladder for a batch's paths, for events chokidar lost (default 60 ms; 0: never). */
  recheckMs?: number;
}

const DEFAULTS = {
  debounceMs: 20,
  maxWaitMs: 2000,
  ignoreAssistantScratch: false,
  rescan: 'hash' as 'hash' | 'stat',
  saveIntervalMs: 2000,
  check: 'hash' as 'hash' | 'stat',
  recheckMs: 60,
};

/** The assistants treat a `.lock` folder older than this as left by a crash (task-stores.md). */
const LOCK_STALE_MS = 31_000;
/** The recheck ladder, in multiples of `recheckMs`. */
const RECHECK_LADDER = [1, 4, 16, 50];
/** How much earlier than its due time a recheck timer may fire and still count. */
const RECHECK_EARLY_MS = 5;
/** How often a batch waiting for an assistant's lock looks again. */
const LOCK_POLL_MS = 5;

export class FileChangeDetector {
  /** Absolute root folder. */
  readonly root: string;
  private readonly settings: typeof DEFAULTS & FileChangeDetectorOptions;
  private readonly batchListeners = new Set<FileBatchListener>();
  private readonly errorListeners = new Set<(error: SyncError) => void>();
  private watcher: FSWatcher | null = null;
  private manifest = new Map<string, ManifestEntry>();
  /** Files (and folders, whose whole subtree counts) to check on the next flush. */
  private readonly pendingFiles = new Set<string>();
  private readonly pendingFolders = new Set<string>();
  /** Paths of earlier batches whose recheck is due now (checked by the next flush; stat first). */
  private readonly pendingRechecks = new Set<string>();
  /** Paths waiting for a recheck: when it is due and its step on the ladder. */
  private readonly rechecksDue = new Map<string, { due: number; step: number }>();
  private recheckTimer: NodeJS.Timeout | null = null;
  private pendingRescan = false;
  private firstPendingAt = 0;
  private debounceTimer: NodeJS.Timeout | null = null;
  private saveTimer: NodeJS.Timeout | null = null;
  private dirty = false;
  /** The chain that processes flushes one after another. */
  private work: Promise<void> = Promise.resolve();
  private starting: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** Settles when close() begins, so a start waiting for chokidar's 'ready' can give up. */
  private readonly closed: Promise<void>;
  private markClosed!: () => void;

  constructor(root: string, options: FileChangeDetectorOptions = {}) {
    this.root = resolve(root);
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.settings = { ...DEFAULTS, ...given };
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  /** Subscribes to batches; returns the remover. */
  onBatch(listener: FileBatchListener): () => void {
    this.batchListeners.add(listener);
    return () => this.batchListeners.delete(listener);
  }

  /**
   * Subscribes to problems that do not stop detection: WATCH_ERROR (the watcher failed),
   * WATCH_UNREADABLE (a file or folder could not be read; it keeps its last state),
   * WATCH_ROOT_MISSING (the root vanished), WATCH_LISTENER_FAILED (a batch listener threw;
   * the batch will be reported again), WATCH_STATE_SAVE_FAILED. Returns the remover.
   */
  onError(listener: (error: SyncError) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /**
   * Starts watching, then rescans the whole root against the saved manifest. Resolves once the
   * rescan's batch (if any) was delivered. Throws WATCH_ROOT_MISSING when the root is not a
   * folder, WATCH_CLOSED after close(). Calling it again returns the same promise.
   */
  start(): Promise<void> {
    if (this.closing) return Promise.reject(new SyncError('WATCH_CLOSED', 'the detector is closed', { root: this.root }));
    this.starting ??= this.run();
    return this.starting;
  }

  /** Checks everything pending now instead of waiting for the debounce; resolves when delivered. */
  flush(): Promise<void> {
    this.clearDebounce();
    this.work = this.work
      .then(() => this.process())
      .catch((err: unknown) => this.report('WATCH_ERROR', 'checking changed files failed', { root: this.root }, err));
    return this.work;
  }

  /** Stops watching, finishes the batch in progress and saves the state. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.markClosed();
      this.clearDebounce();
      if (this.recheckTimer) clearTimeout(this.recheckTimer);
      this.recheckTimer = null;
      if (this.saveTimer) clearTimeout(this.saveTimer);
      this.saveTimer = null;
      await this.watcher?.close().catch(() => undefined);
      await this.starting?.catch(() => undefined);
      await this.work;
      this.pendingFiles.clear();
      this.pendingFolders.clear();
      this.pendingRechecks.clear();
      this.rechecksDue.clear();
      if (this.dirty) await this.save();
      this.batchListeners.clear();
      this.errorListeners.clear();
    })();
    return this.closing;
  }

  private async run(): Promise<void> {
    const info = await fsp.stat(this.root).catch(() => null);
    if (!info?.isDirectory()) {
      throw new SyncError('WATCH_ROOT_MISSING', 'the folder to watch does not exist', { root: this.root });
    }
    if (this.settings.statePath && !this.settings.forgetSavedState) this.manifest = await loadWatchManifest(this.settings.statePath, this.root);
    if (this.closing) return;
    const watcher = watch(this.root, {
      ignoreInitial: true,
      followSymlinks: false,
      depth: this.settings.depth,
      ignored: (path: string) => this.isIgnored(this.toRelative(path)),
    });
    this.watcher = watcher;
    watcher.on('all', (event, path) => this.note(event, this.toRelative(path)));
    watcher.on('error', (err) => this.report('WATCH_ERROR', 'the file watcher failed', { root: this.root }, err));
    await Promise.race([new Promise<void>((ready) => watcher.once('ready', ready)), this.closed]);
    if (this.closing) return;
    // Watch first, then rescan: a change during the rescan is caught by one or the other.
    this.pendingRescan = true;
    await this.flush();
  }

  private note(event: string, rel: string): void {
    if (this.closing) return;
    if (event === 'addDir' || event === 'unlinkDir') this.pendingFolders.add(rel);
    else if (event === 'add' || event === 'change' || event === 'unlink') this.pendingFiles.add(rel);
    else return;
    const now = Date.now();
    if (!this.debounceTimer) this.firstPendingAt = now;
    this.armDebounce(this.settings.debounceMs);
  }

  /** (Re)starts the quiet-time timer: `ms`, but never past the first pending event's max wait. */
  private armDebounce(ms: number): void {
    this.clearDebounce();
    const wait = Math.max(0, Math.min(ms, this.firstPendingAt + this.settings.maxWaitMs - Date.now()));
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      void this.quiet();
    }, wait);
    this.debounceTimer.unref();
  }

  /** The quiet time passed: flush, unless an assistant is still writing there (and max wait allows). */
  private async quiet(): Promise<void> {
    if (this.lockAware && Date.now() - this.firstPendingAt < this.settings.maxWaitMs && (await this.writeInProgress())) {
      // Look again soon (a new event meanwhile re-armed the timer itself).
      if (!this.debounceTimer && !this.closing) this.armDebounce(Math.min(this.settings.debounceMs, LOCK_POLL_MS));
      return;
    }
    if (!this.debounceTimer) void this.flush();
  }

  private get lockAware(): boolean {
    return this.settings.lockAware ?? this.settings.ignoreAssistantScratch;
  }

  /** True when a folder holding a pending file has a live `*.lock` folder (an assistant mid-write). */
  private async writeInProgress(): Promise<boolean> {
    const folders = new Set<string>();
    for (const file of this.pendingFiles) folders.add(dirname(file));
    folders.delete('.'); // the root holds roo-sync's own owner lock, not an assistant's
    const now = Date.now();
    for (const folder of folders) {
      const names = await fsp.readdir(join(this.root, folder)).catch(() => [] as string[]);
      for (const name of names) {
        if (!name.endsWith('.lock')) continue;
        const info = await fsp.stat(join(this.root, folder, name)).catch(() => null);
        if (info?.isDirectory() && now - info.mtimeMs < LOCK_STALE_MS) return true;
      }
    }
    return false;
  }

  /** Schedules each path's recheck at `step` of the ladder (see the module doc); past its end, none. */
  private scheduleRecheck(paths: Iterable<string>, stepOf: (path: string) => number): void {
    if (this.settings.recheckMs <= 0 || this.closing) return;
    const now = Date.now();
    for (const path of paths) {
      const step = stepOf(path);
      if (step >= RECHECK_LADDER.length) this.rechecksDue.delete(path);
      else this.rechecksDue.set(path, { due: now + this.settings.recheckMs * RECHECK_LADDER[step]!, step });
    }
    this.armRecheck();
  }

  /** Arms the timer for the earliest recheck due. */
  private armRecheck(): void {
    if (this.recheckTimer) clearTimeout(this.recheckTimer);
    this.recheckTimer = null;
    if (this.rechecksDue.size === 0 || this.closing) return;
    let next = Infinity;
    for (const { due } of this.rechecksDue.values()) next = Math.min(next, due);
    this.recheckTimer = setTimeout(() => {
      this.recheckTimer = null;
      // A timer may fire a little before Date.now() reaches its due time.
      const now = Date.now() + RECHECK_EARLY_MS;
      for (const [path, recheck] of this.rechecksDue) {
        if (recheck.due > now) continue;
        this.pendingRechecks.add(path);
        // Due again at the same step unless process() reschedules it (a failed delivery does not).
        recheck.due = now + this.settings.recheckMs * RECHECK_LADDER[recheck.step]!;
      }
      // process() reschedules what it checked; the timer is armed again for the rest either way.
      void this.flush().then(() => {
        if (!this.recheckTimer) this.armRecheck();
      });
    }, Math.max(0, next - Date.now()));
    this.recheckTimer.unref();
  }

  private clearDebounce(): void {
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.debounceTimer = null;
  }

  /** One flush: checks the pending paths against the disk and delivers what really changed. */
  private async process(): Promise<void> {
    const rescan = this.pendingRescan;
    const files = new Set(this.pendingFiles);
    const folders = new Set(this.pendingFolders);
    // A recheck trusts unchanged size and mtime; a path with a new event is checked in full.
    const rechecks = new Map<string, ManifestEntry>();
    for (const path of this.pendingRechecks) {
      const before = this.manifest.get(path);
      if (!files.has(path) && before) rechecks.set(path, before);
      files.add(path);
    }
    this.pendingRescan = false;
    this.pendingFiles.clear();
    this.pendingFolders.clear();
    this.pendingRechecks.clear();
    if (!rescan && files.size === 0 && folders.size === 0) return;

    const inScope = rescan ? () => true : scopeOf(files, folders);
    const unreadable: string[] = [];
    let current: Map<string, ManifestEntry>;
    try {
      current = await scanWorkspace(this.root, {
        ignore: (rel) => this.isIgnored(rel) || !inScope(rel, 'walk'),
        // Events always check in full; a `stat` rescan and rechecks trust unchanged size and mtime.
        previous: rescan && this.settings.rescan === 'stat' ? this.manifest : rechecks,
        identity: this.settings.check === 'stat' ? 'stat' : 'content',
        onProblem: (p: ScanProblem) => {
          unreadable.push(p.path);
          this.report('WATCH_UNREADABLE', 'a path could not be read; it keeps its last state', { ...p });
        },
      });
    } catch (err) {
      if (isSyncError(err, 'WORKSPACE_ROOT_MISSING')) {
        this.report('WATCH_ROOT_MISSING', 'the watched folder is gone', { root: this.root }, err);
        return;
      }
      throw err;
    }

    const changed: string[] = [];
    const removed: string[] = [];
    for (const entry of current.values()) {
      const before = this.manifest.get(entry.path);
      if (!before || before.hash !== entry.hash || before.mode !== entry.mode) changed.push(entry.path);
    }
    const isUnreadable = (path: string) => unreadable.some((u) => path === u || path.startsWith(`${u}/`));
    for (const path of [...this.manifest.keys()]) {
      if (!inScope(path, 'file') || current.has(path) || isUnreadable(path)) continue;
      if (this.isIgnored(path)) this.manifest.delete(path); // ignored since it was recorded
      else removed.push(path);
    }
    changed.sort();
    removed.sort();

    if (changed.length > 0 || removed.length > 0) {
      const delivered = await this.deliver({ changed, removed });
      if (!delivered) return;
    }
    // Paths named by events (not a whole rescan) are looked at again: a path with an event or a
    // change starts the ladder over, an unchanged recheck takes its next step (see the module doc).
    if (!rescan) {
      const fresh = (path: string) => !rechecks.has(path) || changed.includes(path);
      for (const path of files) if (!current.has(path)) this.rechecksDue.delete(path);
      this.scheduleRecheck([...files].filter((path) => current.has(path)), (path) => (fresh(path) ? 0 : (this.rechecksDue.get(path)?.step ?? RECHECK_LADDER.length) + 1));
    }
    // Take in every scanned entry (also touched-but-same files, so their new mtime sticks).
    for (const entry of current.values()) this.manifest.set(entry.path, entry);
    for (const path of removed) this.manifest.delete(path);
    this.dirty = true;
    this.scheduleSave();
  }

  private async deliver(batch: FileBatch): Promise<boolean> {
    const results = await Promise.allSettled([...this.batchListeners].map(async (listener) => listener(batch)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      this.report('WATCH_LISTENER_FAILED', 'a batch listener failed; the batch will be reported again', {}, failed.reason);
      return false;
    }
    return true;
  }

  private scheduleSave(): void {
    if (!this.settings.statePath || this.saveTimer || this.closing) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.work = this.work.then(() => this.save());
    }, this.settings.saveIntervalMs);
    this.saveTimer.unref();
  }

  private async save(): Promise<void> {
    if (!this.settings.statePath) return;
    this.dirty = false;
    try {
      await saveWatchManifest(this.settings.statePath, this.root, this.manifest);
    } catch (err) {
      this.dirty = true;
      this.report('WATCH_STATE_SAVE_FAILED', 'cannot save the watch state', { path: this.settings.statePath }, err);
    }
  }

  private isIgnored(rel: string): boolean {
    if (rel === '') return false;
    if (rel.startsWith('../')) return true;
    if (this.settings.ignoreAssistantScratch && isAssistantScratch(rel)) return true;
    if (isBeyondDepth(rel, this.settings.depth)) return true;
    if (this.stateRel !== null && (rel === this.stateRel || rel.startsWith(`${this.stateRel}.`))) return true;
    return this.settings.ignore?.(rel) ?? false;
  }

  /** The state file's path relative to the root when it lies inside it (it must not watch itself). */
  private get stateRel(): string | null {
    if (!this.settings.statePath) return null;
    const rel = this.toRelative(resolve(this.settings.statePath));
    return rel.startsWith('../') || rel === '' ? null : rel;
  }

  private toRelative(path: string): string {
    const rel = relative(this.root, resolve(this.root, path));
    return sep === '/' ? rel : rel.split(sep).join('/');
  }

  private report(code: string, message: string, details: Record<string, unknown>, cause?: unknown): void {
    const error = new SyncError(code, message, details, { cause });
    for (const listener of this.errorListeners) {
      try {
        listener(error);
      } catch {
        // An error listener's own failure has nowhere left to go.
      }
    }
  }
}

/**
 * Which paths a partial flush looks at: the pending files, everything under pending folders,
 * and (for walking) the folders leading to them.
 */
function scopeOf(files: ReadonlySet<string>, folders: ReadonlySet<string>): (rel: string, kind: 'walk' | 'file') => boolean {
  const ancestors = new Set<string>();
  for (const path of [...files, ...folders]) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) ancestors.add(parts.slice(0, i).join('/'));
  }
  const underFolder = (rel: string): boolean => {
    if (folders.has('')) return true;
    const parts = rel.split('/');
    for (let i = 1; i <= parts.length; i++) if (folders.has(parts.slice(0, i).join('/'))) return true;
    return false;
  };
  return (rel, kind) => files.has(rel) || underFolder(rel) || (kind === 'walk' && ancestors.has(rel));
}
