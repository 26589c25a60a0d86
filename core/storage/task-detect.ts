/**
 * Local change detection for one task: diffs the task as on disk against its sync state and
 * says what to queue (DESIGN.md "Data model": one small `put` per appended message, never a
 * re-upload) and what to write back (entries a stale rewrite or an empty file lost).
 *
 * The sync state is updated in memory as the changes are planned; the caller queues the
 * changes durably before it saves the state.
 */
import type { TaskSnapshot } from '../ports/task-store';
import { STREAM_NAMES, compareEntryKeys, type ChangeBody, type EntryKey, type StreamName } from '../model/changes';
import { diffKeyedStream } from '../tracking/stream-diff';
import { sortEntries } from '../merge/stream-merge';
import { deepEqual, diffHistoryItem } from '../tracking/history-diff';
import { mergeTaskMeta, stampFields } from '../merge/metadata-merge';
import { buildHistoryItem } from './task-apply';
import type { KeyedEntry } from '../tracking/stream-keys';
import { keyEntriesStable } from './stable-keys';
import { cacheEntries, loadCachedEntry, loadSyncedEntries, type WantedEntry } from './entry-cache';
import { noteQueuedTruncate, trackedList, type TaskSyncState, type TrackedEntryState } from './sync-state';
import type { SyncContext } from './sync-context';
import { streamEntryKey } from './task-adopt';

/** A change to queue, with the base version it was made on. */
export interface PlannedChange {
  body: ChangeBody;
  baseSeq: number | null;
}

export interface TaskDetection {
  changes: PlannedChange[];
  /** The task with lost entries written back, or null when the disk needs no write. */
  rewrite: TaskSnapshot | null;
  /** Synced entries that should be restored but that neither the entry cache nor the relay holds. */
  unrestorable: Array<{ stream: StreamName; key: EntryKey; hash: string }>;
}

export interface DetectOptions {
  /**
   * Keep the new entries in the entry cache (default true). A bulk first upload passes false:
   * the relay holds every entry it uploads, and a cache filled with a whole store's history
   * (which compaction then trims to its bound) costs disk, CPU and memory for its index that
   * grow with the store; an entry not cached is fetched from the relay when a restore needs it.
   */
  cacheEntries?: boolean;
  /**
   * Only what a pulled batch is about to overwrite counts as a local edit (pull-cycle): an
   * entry the state does not track when its `<stream>/<key>` is in `keys`, and the HistoryItem
   * of a task with no synced fields when `meta`. The rest stays on disk, which the apply leaves
   * as it is, for a later detection, by when a later page may have shown it to be the relay's
   * own (task-adopt). Tracked entries and fields are always compared. Default: everything.
   */
  scope?: { keys: ReadonlySet<string>; meta: boolean };
}

/** Detects local changes of one task against `task` (updated in memory). */
export async function detectTaskChanges(ctx: SyncContext, snapshot: TaskSnapshot, task: TaskSyncState, options: DetectOptions = {}): Promise<TaskDetection> {
  const result: TaskDetection = { changes: [], rewrite: null, unrestorable: [] };
  if (task.deleted !== null) return result;
  const { source, taskId } = snapshot;
  // Key both streams first: entries that cannot be keyed throw here, before any state changes.
  const keyed = {
    ui: keyEntriesStable('ui', snapshot.ui, task.streams.ui, snapshot.keyed?.ui),
    api: keyEntriesStable('api', snapshot.api, task.streams.api, snapshot.keyed?.api),
  };

  let historyItem = snapshot.historyItem;
  const scope = options.scope;
  if (historyItem && (!scope || scope.meta || Object.keys(task.fields).length > 0)) {
    // Held fields (task-adopt) are not local edits until the device has caught up.
    const changed = diffHistoryItem(historyItem, task.fields).filter((name) => !task.heldFields.has(name));
    if (changed.length > 0) {
      const local = stampFields(historyItem, changed, ctx.stamp());
      result.changes.push({
        body: { type: 'task.meta', source, taskId, fields: structuredClone(local.fields), clocks: local.clocks },
        baseSeq: task.metaSeq || null,
      });
      const merged = mergeTaskMeta({ fields: task.fields, clocks: task.clocks }, local);
      task.fields = merged.fields;
      task.clocks = merged.clocks;
      // A counter edited downwards stays at the merged maximum, as on every other device.
      if (changed.some((name) => !deepEqual(merged.fields[name] ?? null, local.fields[name] ?? null))) {
        historyItem = buildHistoryItem(historyItem, task);
      }
    }
  }

  const rewritten: Partial<Record<StreamName, unknown[]>> = {};
  let apiHashes: Set<string> | undefined;
  for (const stream of STREAM_NAMES) {
    const tracked = task.streams[stream];
    const diff = diffKeyedStream(keyed[stream], trackedList(task, stream));
    if (scope) diff.puts = diff.puts.filter((put) => tracked.has(put.key) || scope.keys.has(streamEntryKey(stream, put.key)));
    // Held entries (task-adopt) are not local edits until the device has caught up.
    if (task.held.size > 0) diff.puts = diff.puts.filter((put) => !task.held.has(streamEntryKey(stream, put.key)));
    // A rewrite that brings back a version remote changes replaced comes from stale memory:
    // restore the remote version instead of sending the old one again.
    const reverted = new Set<EntryKey>();
    diff.puts = diff.puts.filter((put) => {
      const before = tracked.get(put.key);
      const stale = before !== undefined && !before.own && (before.prev?.includes(put.hash) ?? false);
      if (stale) reverted.add(put.key);
      return !stale;
    });
    if (reverted.size > 0) diff.restore = [...diff.restore, ...reverted];
    // A ui entry a remote truncate removed, written back as it was (or as it had been before),
    // comes from memory older than the truncate ("delete from here" on another device): drop it
    // again instead of sending it.
    const resurrected = new Set<EntryKey>();
    if (stream === 'ui' && task.cut.size > 0) {
      diff.puts = diff.puts.filter((put) => {
        const stale = !tracked.has(put.key) && wasCut(task.cut, put.key, put.hash);
        if (stale) resurrected.add(put.key);
        return !stale;
      });
    }
    if (diff.truncateAfter !== undefined) {
      const afterKey = diff.truncateAfter;
      result.changes.push({ body: { type: 'stream.truncate', source, taskId, stream, afterKey }, baseSeq: null });
      noteQueuedTruncate(task, stream, afterKey);
      for (const key of [...tracked.keys()]) {
        if (afterKey === null || compareEntryKeys(key, afterKey) > 0) tracked.delete(key);
      }
    }
    for (const put of diff.puts) {
      // The base is the version this one replaces as last synced (or, while that one is this
      // device's own and still unacknowledged, the version that one replaced): a device whose
      // own version the put displaces tells an edit of it from a concurrent write by it.
      const before = tracked.get(put.key);
      let base = baseSeqOf(before);
      // ... unless it is a stale rewrite over a received api entry: then it was not seen.
      if (base !== null && stream === 'api' && before && !before.own) {
        apiHashes ??= new Set(keyed.api.map((e) => e.hash));
        if (await overwritesUnseen(ctx, before, put, apiHashes)) base = null;
      }
      result.changes.push({
        body: { type: 'stream.put', source, taskId, stream, key: put.key, hash: put.hash, entry: put.entry },
        baseSeq: base,
      });
      const next: TrackedEntryState = { key: put.key, hash: put.hash, own: true, seq: 0 };
      if (base !== null) next.base = base;
      tracked.set(put.key, next);
      if (stream === 'ui') task.cut.delete(put.key);
    }
    if (options.cacheEntries !== false) await cacheEntries(ctx.entryCache, diff.puts);
    const kept = resurrected.size > 0 ? keyed[stream].filter((e) => !resurrected.has(e.key)) : keyed[stream];
    if (resurrected.size > 0) rewritten[stream] = kept.map((e) => e.entry);
    if (diff.restore.length > 0) {
      const wanted: WantedEntry[] = [];
      for (const key of diff.restore) {
        const entry = tracked.get(key);
        if (entry) wanted.push({ key, hash: entry.hash });
      }
      const { found, missing } = await loadSyncedEntries(ctx.entryCache, ctx.remoteEntries, { source, taskId, stream }, wanted);
      for (const key of missing) result.unrestorable.push({ stream, key, hash: tracked.get(key)!.hash });
      const restored: KeyedEntry[] = wanted.filter((w) => found.has(w.key)).map((w) => ({ key: w.key, hash: w.hash, entry: found.get(w.key) }));
      if (restored.length > 0) {
        const base = reverted.size > 0 ? kept.filter((e) => !reverted.has(e.key) || !restored.some((r) => r.key === e.key)) : kept;
        rewritten[stream] = mergeByKey(base, restored).map((e) => e.entry);
      }
    }
  }
  if (result.changes.length > 0) ctx.state.markDirty(task);
  if (rewritten.ui || rewritten.api || historyItem !== snapshot.historyItem) {
    result.rewrite = { ...snapshot, keyed: undefined, ui: rewritten.ui ?? snapshot.ui, api: rewritten.api ?? snapshot.api, historyItem };
  }
  return result;
}

/**
 * True when `cut` (TaskSyncState.cut) holds `hash` under a key with the ts of `key`: a message
 * keeps its ts, but its occurrence (`<ts>:<n>`) can change when a truncate removed another
 * message with that ts, so the same message can come back under another occurrence.
 */
function wasCut(cut: ReadonlyMap<EntryKey, readonly string[]>, key: EntryKey, hash: string): boolean {
  if (cut.get(key)?.includes(hash)) return true;
  const ts = key.slice(0, key.lastIndexOf(':') + 1);
  for (const [other, hashes] of cut) if (other.startsWith(ts) && other.lastIndexOf(':') + 1 === ts.length && hashes.includes(hash)) return true;
  return false;
}

/**
 * The `baseSeq` of a put that replaces `tracked` (the synced version of its key): the seq of the
 * latest version of the entry this device has seen from the log, null for a new key.
 */
export function baseSeqOf(tracked: TrackedEntryState | undefined): number | null {
  if (!tracked) return null;
  if (tracked.seq > 0) return tracked.seq;
  return tracked.base ?? null;
}

/**
 * api keys are positions: when the assistant, writing from memory that lacks an entry received
 * from another device at position N, appends its own message, that message lands at N and
 * replaces the received entry like an edit would. It is told from an edit by what it holds:
 * the received entry is nowhere in the file any more, and the new one is another message
 * (another role, or content that does not start with the received one's). Edits keep role and
 * content (condensing tags old messages) or extend the content (resuming a task merges new
 * blocks into the last user message). Such a put is sent as one made without having seen the
 * entry (baseSeq null), so the entry's author keeps it in a task conflict copy (task-apply)
 * instead of losing it; an edit this mistakes for one costs a copy too many, never an entry.
 */
async function overwritesUnseen(ctx: SyncContext, before: TrackedEntryState, put: KeyedEntry, current: ReadonlySet<string>): Promise<boolean> {
  if (current.has(before.hash)) return false; // moved (an insert before it), not replaced
  const cached = await loadCachedEntry(ctx.entryCache, before.hash);
  // Not comparable: keeping a copy too many loses nothing.
  if (!cached) return true;
  return !sameMessage(cached.entry, put.entry);
}

/**
 * `next` is `before` edited: the same role, and the same content or content that starts with
 * `before`'s (text extended, blocks added), whatever other fields (tags) it gained or lost.
 */
function sameMessage(before: unknown, next: unknown): boolean {
  if (typeof before !== 'object' || typeof next !== 'object' || before === null || next === null) return deepEqual(before, next);
  const x = before as Record<string, unknown>;
  const y = next as Record<string, unknown>;
  if (!deepEqual(x.role ?? null, y.role ?? null)) return false;
  const [old, now] = [x.content ?? null, y.content ?? null];
  if (typeof old === 'string' && typeof now === 'string') return now.startsWith(old);
  if (Array.isArray(old) && Array.isArray(now)) return old.length <= now.length && old.every((block, i) => deepEqual(block, now[i]));
  return deepEqual(old, now);
}

/** Entries of both lists in key order; `extra` entries are added only for keys `base` lacks. */
export function mergeByKey(base: readonly KeyedEntry[], extra: readonly KeyedEntry[]): KeyedEntry[] {
  const byKey = new Map<EntryKey, KeyedEntry>();
  for (const e of base) byKey.set(e.key, e);
  for (const e of extra) if (!byKey.has(e.key)) byKey.set(e.key, e);
  return sortEntries([...byKey.values()]);
}
