/**
 * Changes the sync state tracks as queued that the outbox no longer holds.
 *
 * Detection records a change in the sync state as it queues it, so the state alone never
 * detects it again: if the outbox journal that held it is lost before the relay acknowledged
 * it (a deleted state folder, a reset or salvaged journal), it would never reach the relay.
 * The state therefore keeps what it has queued and not yet seen acknowledged:
 * - stream entries: `own` with `seq` 0 (the ack sets the seq);
 * - metadata and tombstones: own field clocks (or an own tombstone) above `metaAcked`;
 * - truncates: `truncates` per stream (they leave no other trace);
 * - files: the synced version differs from the acknowledged base (`hash`/`deleted` vs `base*`).
 * `findUnsent` lists those whose entity has no change in the outbox; `requeueUnsent` queues
 * them again, from disk when it still holds the same version (the entry cache or the blob store
 * otherwise), and runs detection over the same tasks and files for anything newer.
 *
 * Sending again something the relay already has (its ack was lost with the journal) is
 * harmless for entries, metadata and files: a put of the same key and hash is stored as a newer
 * version with the same content, which every device applies without a visible change; metadata
 * carries its original clocks, so the per-field merge keeps what it has; a file put names its
 * base, so a relay that moved on answers with a conflict that settles like any other. A
 * truncate sent again drops entries other devices appended meanwhile, as a truncate queued
 * offline and delivered late does.
 */
import { isSyncError } from '../errors';
import { mergeTaskMeta } from '../merge/metadata-merge';
import type { TaskId } from '../ids';
import { compareEntryKeys, entityKeyOf, STREAM_NAMES, type ChangeBody, type ClientChange, type EntryKey, type StreamName, type TaskSource } from '../model/changes';
import { sha256Hex } from '../model/hash';
import type { TaskSnapshot, TaskStore } from '../ports/task-store';
import { deepEqual } from '../tracking/history-diff';
import type { KeyedEntry } from '../tracking/stream-keys';
import { loadSyncedEntries, relayVersion } from './entry-cache';
import { detectFileChanges } from './file-sync';
import { keyEntriesStable } from './stable-keys';
import { isUnackedOwnClock, noteQueuedTruncate, taskStateKey, type FileSyncState, type SyncState, type TaskSyncState, type TrackedEntryState } from './sync-state';
import type { EngineDeps } from './sync-context';
import { detectTaskChanges, type PlannedChange } from './task-detect';

/** What HybridStorage found when it opened (see HybridStorage.outboxRecovery). */
export interface OutboxRecoveryReport {
  /**
   * Whether the sync state was checked against the outbox: only when the outbox is not the
   * journal the state last queued into (a new journal id, or no id to compare).
   */
  checked: boolean;
  /** Entities the sync state tracks as queued and not yet acknowledged (when checked). */
  unacknowledged: number;
  /** Of those, the ones without any change in the outbox. */
  missing: number;
  /** Tasks read again from their store, and workspaces scanned again. */
  tasks: number;
  workspaces: number;
  /** Changes queued by the recovery (what was missing plus anything detected with it). */
  queued: number;
}

/** Entities the sync state holds as queued while the outbox has nothing for them. */
export interface UnsentChanges {
  unacknowledged: number;
  missing: number;
  /** `<source>/<taskId>` -> the task and its missing entity keys. */
  tasks: Map<string, { source: TaskSource; taskId: TaskId; entities: Set<string> }>;
  /** workspaceId -> missing paths. */
  files: Map<string, Set<string>>;
}

/** The stream/task/file entity keys of `entityKeyOf`, for state that has no change body. */
const taskEntity = (t: TaskSyncState): string => entityKeyOf({ type: 'task.delete', source: t.source, taskId: t.taskId, clock: '' });
const streamEntity = (t: TaskSyncState, stream: StreamName): string =>
  entityKeyOf({ type: 'stream.truncate', source: t.source, taskId: t.taskId, stream, afterKey: null });
const entryEntity = (t: TaskSyncState, stream: StreamName, key: EntryKey): string =>
  entityKeyOf({ type: 'stream.put', source: t.source, taskId: t.taskId, stream, key, hash: '', entry: null });
const fileEntity = (f: FileSyncState): string => entityKeyOf({ type: 'file.delete', workspaceId: f.workspaceId, path: f.path });

/** Names of own metadata fields queued and not yet acknowledged. */
function unackedFields(task: TaskSyncState, deviceId: string): string[] {
  return Object.keys(task.clocks).filter((name) => isUnackedOwnClock(task, task.clocks[name], deviceId));
}

/**
 * The file's local version is not the acknowledged base, or a remote version was skipped for a
 * local change that has not met it at the relay yet (sending the local version, even one equal
 * to the base, brings the skipped one back as a conflict).
 */
function fileUnacked(f: FileSyncState): boolean {
  if ((f.skippedSeq ?? 0) > f.baseSeq) return true;
  return f.deleted ? !f.baseDeleted : f.baseDeleted || f.hash !== f.baseHash;
}

/**
 * Lists what the state tracks as queued and unacknowledged whose entity has no change in
 * `pending` (the outbox's queue). In memory only: one pass over the state and the queue.
 */
export function findUnsent(state: SyncState, deviceId: string, pending: readonly { body: ChangeBody }[]): UnsentChanges {
  const held = new Set(pending.map((c) => entityKeyOf(c.body)));
  const out: UnsentChanges = { unacknowledged: 0, missing: 0, tasks: new Map(), files: new Map() };
  for (const task of state.allTasks()) {
    const key = taskStateKey(task.source, task.taskId);
    const missing = new Set<string>();
    const note = (entity: string): void => {
      out.unacknowledged++;
      if (!held.has(entity)) missing.add(entity);
    };
    if (task.deleted !== null) {
      // A deleted task sends nothing but its tombstone.
      if (isUnackedOwnClock(task, task.deleted, deviceId)) note(taskEntity(task));
    } else {
      if (unackedFields(task, deviceId).length > 0) note(taskEntity(task));
      for (const stream of STREAM_NAMES) {
        if (task.truncates[stream].length > 0) note(streamEntity(task, stream));
        for (const entry of task.streams[stream].values()) if (entry.own && entry.seq === 0) note(entryEntity(task, stream, entry.key));
      }
    }
    if (missing.size > 0) {
      out.missing += missing.size;
      out.tasks.set(key, { source: task.source, taskId: task.taskId, entities: missing });
    }
  }
  for (const file of state.files.values()) {
    if (!fileUnacked(file)) continue;
    out.unacknowledged++;
    if (held.has(fileEntity(file))) continue;
    out.missing++;
    const paths = out.files.get(file.workspaceId) ?? new Set<string>();
    paths.add(file.path);
    out.files.set(file.workspaceId, paths);
  }
  return out;
}

/**
 * The other direction: task changes the outbox holds that the sync state does not record.
 * Detection queues a change before it saves the state recording it, so a crash (or a failed
 * save) in between leaves the state at the version before. The ack of such a put then finds no
 * tracked entry to record, and detection, seeing the queued version on disk as new, queues it a
 * second time, which the relay stores again (with a base from before: a spurious concurrent
 * write); metadata would likewise be queued again. Replays the queue's puts, truncates and
 * metadata, in clientSeq order, over the state as detection would have recorded them. Only for
 * the journal the state queued into: another one (salvaged) may hold older versions than the
 * state. Returns the tasks it changed.
 */
export function notePending(state: SyncState, pending: readonly ClientChange[]): number {
  const changed = new Set<TaskSyncState>();
  // Per task stream: its tracked entries with the queue laid over them, and the queued truncates.
  const replayed = new Map<Map<EntryKey, TrackedEntryState>, { task: TaskSyncState; stream: StreamName; entries: Map<EntryKey, TrackedEntryState>; truncates: Array<EntryKey | null> }>();
  for (const change of pending) {
    const body = change.body;
    if (body.type === 'task.meta') {
      // Detection merged these fields and clocks into the state as it queued them.
      const task = state.task(body.source, body.taskId);
      if (task.deleted !== null) continue;
      const merged = mergeTaskMeta({ fields: task.fields, clocks: task.clocks }, { fields: body.fields, clocks: body.clocks });
      if (deepEqual(merged.fields, task.fields) && deepEqual(merged.clocks, task.clocks)) continue;
      task.fields = merged.fields;
      task.clocks = merged.clocks;
      changed.add(task);
      continue;
    }
    if (body.type !== 'stream.put' && body.type !== 'stream.truncate') continue;
    const task = state.task(body.source, body.taskId);
    if (task.deleted !== null) continue;
    const tracked = task.streams[body.stream];
    let replay = replayed.get(tracked);
    if (!replay) replayed.set(tracked, (replay = { task, stream: body.stream, entries: new Map(tracked), truncates: [] }));
    if (body.type === 'stream.put') {
      if (replay.entries.get(body.key)?.hash === body.hash) continue;
      const entry: TrackedEntryState = { key: body.key, hash: body.hash, own: true, seq: 0 };
      if (change.baseSeq !== null) entry.base = change.baseSeq;
      replay.entries.set(body.key, entry);
      continue;
    }
    // Entries after the key are own puts queued before the truncate (remote ones are skipped
    // while it is queued): detection dropped them from the state when it queued the truncate.
    const afterKey = body.afterKey;
    for (const key of [...replay.entries.keys()]) if (afterKey === null || compareEntryKeys(key, afterKey) > 0) replay.entries.delete(key);
    replay.truncates.push(afterKey);
  }
  for (const [tracked, { task, stream, entries, truncates }] of replayed) {
    const same = entries.size === tracked.size && [...entries].every(([key, entry]) => sameTracked(tracked.get(key), entry));
    if (!same) {
      tracked.clear();
      for (const [key, entry] of entries) tracked.set(key, entry);
      changed.add(task);
    }
    for (const afterKey of truncates) {
      if (task.truncates[stream].includes(afterKey)) continue;
      noteQueuedTruncate(task, stream, afterKey);
      changed.add(task);
    }
  }
  for (const task of changed) state.markDirty(task);
  return changed.size;
}

function sameTracked(a: TrackedEntryState | undefined, b: TrackedEntryState): boolean {
  return a !== undefined && a.hash === b.hash && a.own === b.own && a.seq === b.seq && a.base === b.base && a.prev?.join(' ') === b.prev?.join(' ');
}

export interface Requeue {
  planned: PlannedChange[];
  /** Tasks whose disk copy lost entries detection restores (written after the state is saved). */
  rewrites: Array<{ store: TaskStore; snapshot: TaskSnapshot }>;
  tasks: number;
  workspaces: number;
}

/**
 * Plans the missing changes again (updating the state in memory like detection does): per
 * task its tombstone, or its unacknowledged fields with their original clocks, its truncates
 * in queue order, then its unacknowledged entries; then whatever detection finds in the same
 * tasks and files. The caller queues `planned` in order, saves the state, then writes `rewrites`.
 */
export async function requeueUnsent(deps: EngineDeps, unsent: UnsentChanges): Promise<Requeue> {
  const result: Requeue = { planned: [], rewrites: [], tasks: 0, workspaces: 0 };
  const { ctx } = deps;
  for (const { source, taskId, entities } of unsent.tasks.values()) {
    const store = deps.storeFor(source);
    const task = ctx.state.getTask(source, taskId);
    if (!store || !task) continue;
    result.tasks++;
    const baseSeq = task.metaSeq || null;
    if (task.deleted !== null) {
      result.planned.push({ body: { type: 'task.delete', source, taskId, clock: task.deleted }, baseSeq });
      continue;
    }
    if (entities.has(taskEntity(task))) {
      const names = unackedFields(task, ctx.deviceId);
      const fields: Record<string, unknown> = {};
      const clocks: Record<string, string> = {};
      for (const name of names) {
        fields[name] = structuredClone(task.fields[name] ?? null);
        clocks[name] = task.clocks[name]!;
      }
      if (names.length > 0) result.planned.push({ body: { type: 'task.meta', source, taskId, fields, clocks }, baseSeq });
    }
    const snapshot = await readQuietly(store, taskId);
    for (const stream of STREAM_NAMES) {
      if (entities.has(streamEntity(task, stream))) {
        for (const afterKey of task.truncates[stream]) {
          result.planned.push({ body: { type: 'stream.truncate', source, taskId, stream, afterKey }, baseSeq: null });
        }
      }
      const onDisk = new Map<EntryKey, KeyedEntry>();
      if (snapshot) {
        try {
          for (const e of keyEntriesStable(stream, snapshot[stream], task.streams[stream], snapshot.keyed?.[stream])) onDisk.set(e.key, e);
        } catch (err) {
          if (!isSyncError(err, 'STREAM_ENTRY_INVALID')) throw err;
        }
      }
      for (const tracked of [...task.streams[stream].values()]) {
        if (!tracked.own || tracked.seq !== 0 || !entities.has(entryEntity(task, stream, tracked.key))) continue;
        const disk = onDisk.get(tracked.key);
        let entry: { entry: unknown } | undefined = disk && disk.hash === tracked.hash ? { entry: disk.entry } : undefined;
        if (!entry) {
          // The cache, else the relay: it holds the version when it took the change and the ack
          // went with the journal (then the version is sent again and restored on disk below).
          const { found } = await loadSyncedEntries(ctx.entryCache, ctx.remoteEntries, { source, taskId, stream }, [tracked]);
          if (found.has(tracked.key)) entry = { entry: found.get(tracked.key) };
        }
        if (!entry) {
          // Neither the disk, the cache nor the relay holds this version: it never left this
          // device and is gone. When the disk holds another version, detection below sends it.
          // When it holds none, the entry falls back to the version the relay holds (the one
          // this lost edit replaced, or a later one), which detection below writes back; with
          // none there either, nothing of it exists.
          if (!disk) {
            const relay = await relayVersion(ctx.entryCache, ctx.remoteEntries, { source, taskId, stream }, tracked.key);
            if (relay) task.streams[stream].set(tracked.key, { key: tracked.key, hash: relay.hash, own: false, seq: relay.seq });
            else task.streams[stream].delete(tracked.key);
            ctx.state.markDirty(task);
          }
          continue;
        }
        result.planned.push({
          body: { type: 'stream.put', source, taskId, stream, key: tracked.key, hash: tracked.hash, entry: entry.entry },
          baseSeq: tracked.base ?? null,
        });
      }
    }
    if (!snapshot) continue;
    try {
      const detected = await detectTaskChanges(ctx, snapshot, task);
      result.planned.push(...detected.changes);
      if (detected.rewrite) result.rewrites.push({ store, snapshot: detected.rewrite });
    } catch (err) {
      // Entries that cannot be keyed: the task is left alone, as syncToCloud does.
      if (!isSyncError(err, 'STREAM_ENTRY_INVALID')) throw err;
    }
  }
  for (const [workspaceId, paths] of unsent.files) {
    const files = deps.workspaceFor(workspaceId);
    if (!files) continue;
    result.workspaces++;
    for (const path of paths) {
      const file = ctx.state.getFile(workspaceId, path)!;
      const baseSeq = file.baseSeq || null;
      const bytes = await files.read(path);
      if (file.deleted) {
        if (bytes === null) result.planned.push({ body: { type: 'file.delete', workspaceId: file.workspaceId, path }, baseSeq });
        continue; // a file back on disk is detected below
      }
      if (bytes === null || sha256Hex(bytes) !== file.hash) continue; // changed since: detected below
      if (!(await ctx.blobs.has(file.hash))) await ctx.blobs.put(file.hash, bytes);
      result.planned.push({
        body: { type: 'file.put', workspaceId: file.workspaceId, path, hash: file.hash, size: file.size, mode: file.mode, mtime: file.mtime, binary: file.binary },
        baseSeq,
      });
    }
    result.planned.push(...(await detectFileChanges(ctx, files, paths)));
  }
  return result;
}

/** The task as on disk; null when it is gone or cannot be read (left alone, as syncToCloud does). */
async function readQuietly(store: TaskStore, taskId: TaskId): Promise<TaskSnapshot | null> {
  try {
    return await store.readTask(taskId);
  } catch (err) {
    if (isSyncError(err) && err.code.startsWith('STORE_')) return null;
    throw err;
  }
}
