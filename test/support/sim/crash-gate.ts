/**
 * Crash injection for simulated devices: the device's durable parts (task store, outbox, sync
 * state, workspace files, caches) are reached through wrappers that share one gate. Arming the
 * gate with N lets N more durable operations through; the next one, and every one after it,
 * throws: the process "died" between two writes. The durable objects themselves survive and
 * are handed, with a fresh gate, to the restarted device.
 */
import { SyncError } from '../../../core/errors';
import type { TaskId } from '../../../core/ids';
import type { ChangeBody, ClientChange } from '../../../core/model/changes';
import type { BlobStore } from '../../../core/ports/blob-store';
import type { Outbox } from '../../../core/ports/outbox';
import type { TaskSnapshot, TaskStore } from '../../../core/ports/task-store';
import type { PersistedSyncState, SyncStateStore } from '../../../core/storage/sync-state';
import type { WorkspaceFiles } from '../../../core/storage/workspace-files';

export const CRASH_CODE = 'SIM_CRASHED';

export class CrashGate {
  private remaining = Infinity;
  crashed = false;

  /** Lets `operations` more durable operations through, then crashes. */
  arm(operations: number): void {
    this.remaining = operations;
  }

  /** Cancels an armed crash that has not gone off. */
  disarm(): void {
    this.remaining = Infinity;
  }

  /** Crashes now. */
  trip(): void {
    this.crashed = true;
  }

  /** Called before every durable operation. */
  pass(): void {
    if (!this.crashed && this.remaining <= 0) this.crashed = true;
    if (this.crashed) throw new SyncError(CRASH_CODE, 'simulated crash');
    this.remaining--;
  }
}

export function gatedTaskStore(inner: TaskStore, gate: CrashGate): TaskStore {
  return {
    source: inner.source,
    basePath: inner.basePath,
    listTaskIds: () => (gate.pass(), inner.listTaskIds()),
    readTask: (taskId: TaskId) => (gate.pass(), inner.readTask(taskId)),
    writeTask: (task: TaskSnapshot) => (gate.pass(), inner.writeTask(task)),
    deleteTask: (taskId: TaskId) => (gate.pass(), inner.deleteTask(taskId)),
  };
}

export function gatedOutbox(inner: Outbox, gate: CrashGate): Outbox {
  return {
    enqueue: (changes: Array<{ body: ChangeBody; baseSeq: number | null }>) => (gate.pass(), inner.enqueue(changes)),
    pending: (): ClientChange[] => inner.pending(),
    queued: (): IterableIterator<ClientChange> => inner.queued(),
    acknowledge: (seqs: readonly number[]) => (gate.pass(), inner.acknowledge(seqs)),
    anchor: (relayLastClientSeq: number) => (gate.pass(), inner.anchor(relayLastClientSeq)),
    get anchored() {
      return inner.anchored;
    },
    get journalId() {
      return inner.journalId;
    },
    get size() {
      return inner.size;
    },
    close: async () => undefined,
  };
}

export function gatedStateStore(inner: SyncStateStore, gate: CrashGate): SyncStateStore {
  return {
    load: () => (gate.pass(), inner.load()),
    // Paged like a device's store: task states are read when used (reads are not crash points).
    ...(inner.loadPaged ? { loadPaged: () => (gate.pass(), inner.loadPaged!()) } : {}),
    save: (state: PersistedSyncState) => (gate.pass(), inner.save(state)),
    appendWaiting: (records) => (gate.pass(), inner.appendWaiting(records)),
    loadWaiting: () => (gate.pass(), inner.loadWaiting()),
    replaceWaiting: (records) => (gate.pass(), inner.replaceWaiting(records)),
  };
}

export function gatedFiles(inner: WorkspaceFiles, gate: CrashGate): WorkspaceFiles {
  return {
    workspaceId: inner.workspaceId,
    list: () => (gate.pass(), inner.list()),
    stat: (path) => (gate.pass(), inner.stat(path)),
    read: (path) => (gate.pass(), inner.read(path)),
    write: (path, bytes, meta) => (gate.pass(), inner.write(path, bytes, meta)),
    remove: (path) => (gate.pass(), inner.remove(path)),
  };
}

export function gatedBlobs(inner: BlobStore, gate: CrashGate): BlobStore {
  return {
    has: (hash) => (gate.pass(), inner.has(hash)),
    put: (hash, bytes) => (gate.pass(), inner.put(hash, bytes)),
    get: (hash) => (gate.pass(), inner.get(hash)),
  };
}
