/**
 * What the sync modules of HybridStorage (detect, apply, files, integrity) share: the device,
 * its clock, its sync state and the caches. Built once by HybridStorage.
 */
import type { DeviceId } from '../ids';
import type { HlcStamp } from '../model/changes';
import type { BlobStore } from '../ports/blob-store';
import type { RemoteEntries } from '../ports/remote-entries';
import type { SyncState } from './sync-state';

export interface SyncContext {
  readonly deviceId: DeviceId;
  readonly state: SyncState;
  /** Local cache of stream entries by hash (restores what a stale rewrite dropped). */
  readonly entryCache: BlobStore;
  /** Synced entries as the relay holds them, for what the entry cache lacks (none: cache only). */
  readonly remoteEntries?: RemoteEntries;
  /** Content-addressed file contents shared through the relay. */
  readonly blobs: BlobStore;
  /** A new HLC stamp (recorded in the sync state so a restart never goes back). */
  stamp(): HlcStamp;
  /** Takes in a stamp seen from another device. */
  observe(stamp: HlcStamp): void;
  /** Wall-clock ms (conflict copy names, file mtimes). */
  now(): number;
}

/** The ports HybridStorage's cycles (detect, push, pull) work through. */
export interface EngineDeps {
  readonly ctx: SyncContext;
  readonly outbox: import('../ports/outbox').Outbox;
  readonly transport: import('../ports/sync-transport').SyncTransport;
  readonly resolver: import('../merge/conflict-resolver').ConflictResolver;
  /** The task store of a source, or undefined when none is configured. */
  storeFor(source: import('../model/changes').TaskSource): import('../ports/task-store').TaskStore | undefined;
  readonly stores: ReadonlyArray<import('../ports/task-store').TaskStore>;
  /** The workspace adapter of an id, or undefined when none is configured. */
  workspaceFor(workspaceId: string): import('./workspace-files').WorkspaceFiles | undefined;
  readonly workspaces: ReadonlyArray<import('./workspace-files').WorkspaceFiles>;
  /** Persists the sync state (atomically). */
  saveState(): Promise<void>;
  /** Told of each task conflict copy this device writes (HybridStorage.onTaskConflictCopy). */
  taskCopyMade(copy: TaskCopyMade): void;
}

/** A task conflict copy a pull wrote: the version of `taskId` it displaced now lives in `copyId`. */
export interface TaskCopyMade {
  source: import('../model/changes').TaskSource;
  taskId: string;
  copyId: string;
  /** The copy's title (`[conflict copy <device> <time>] <original title>`), when it has one. */
  title: string | null;
}
