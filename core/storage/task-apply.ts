/**
 * Applies remote changes (in log order) to one task: stream puts and truncates, metadata and
 * tombstones, with the rules that make every device converge on the log's outcome:
 * - a change this device still has queued for the same entity wins (it will be numbered later);
 * - a put older than the version held is skipped (same key: last accepted wins);
 * - a put that replaces a version this device wrote, by a device that had not seen it (its
 *   `baseSeq` is null or older), is a concurrent write: the task as it was before the batch is
 *   returned as `displaced`, for the caller to keep as a task conflict copy (task-conflict-copy);
 * - a truncate drops entries after its key that are older than it, never newer or queued ones;
 * - metadata merges per field by HLC (counters take the maximum) in `mergeTaskMeta`.
 *
 * The sync state is updated in memory; the caller persists it and writes the returned task.
 * Running the same changes again over the written result gives the same result (crash replay).
 */
import type { ServerChange, StreamName, EntryKey, TaskMetaBody } from '../model/changes';
import { compareEntryKeys, entityKeyOf, STREAM_NAMES } from '../model/changes';
import type { TaskSnapshot, HistoryItem } from '../ports/task-store';
import { COUNTER_FIELDS, mergeTaskMeta } from '../merge/metadata-merge';
import { deepEqual } from '../tracking/history-diff';
import { orderStream } from '../merge/stream-merge';
import type { KeyedEntry } from '../tracking/stream-keys';
import { keyEntriesStable } from './stable-keys';
import { cacheEntries, loadSyncedEntries } from './entry-cache';
import { isUnackedOwnClock, noteCut, noteMetaAcked, noteTruncateAcked, replacedVersions, type TaskSyncState, type TrackedEntryState } from './sync-state';
import type { SyncContext } from './sync-context';
import type { DisplacedVersion } from './task-conflict-copy';
import { streamEntryKey } from './task-adopt';

/** Queued (unacknowledged) local changes, as apply needs to see them. */
export interface PendingIndex {
  /** Entity keys with a queued change (see entityKeyOf). */
  entities: ReadonlySet<string>;
  /** Stream entity (`stream/<source>/<task>/<stream>`) -> smallest queued truncate key (null = all). */
  truncates: ReadonlyMap<string, EntryKey | null>;
}

export interface TaskApplyResult {
  /** The task to write, or null when the disk needs no change. */
  write: TaskSnapshot | null;
  /** True when a tombstone arrived: remove the task from the store. */
  delete: boolean;
  /**
   * Set when the changes displaced entries this device wrote, by puts whose authors had not
   * seen them (concurrent writes): keep `displaced.before` as a task conflict copy before
   * writing `write` (see task-conflict-copy).
   */
  displaced: DisplacedVersion | null;
}

/**
 * Applies `changes` (all of one task, seq order) to `snapshot` (the task on disk, or null when
 * it has no folder) and `task` (its sync state).
 */
export async function applyTaskChanges(
  ctx: SyncContext,
  snapshot: TaskSnapshot | null,
  task: TaskSyncState,
  changes: readonly ServerChange[],
  pending: PendingIndex,
): Promise<TaskApplyResult> {
  const { source, taskId } = task;
  if (changes.length > 0) ctx.state.markDirty(task);
  const streamPrefix = `stream/${source}/${taskId}/`;
  const entries = {} as Record<StreamName, Map<EntryKey, KeyedEntry>>;
  const onDisk = snapshot !== null;
  for (const stream of STREAM_NAMES) {
    entries[stream] = new Map((snapshot ? keyEntriesStable(stream, snapshot[stream], task.streams[stream], snapshot.keyed?.[stream]) : []).map((e) => [e.key, e]));
  }
  if (snapshot === null) {
    // No folder (new here, or deferred until its metadata came): start from what was synced.
    // Entries the cache lacks come from the relay's copy (loadSyncedEntries).
    for (const stream of STREAM_NAMES) {
      const tracked = [...task.streams[stream].values()];
      const { found } = await loadSyncedEntries(ctx.entryCache, ctx.remoteEntries, { source, taskId, stream }, tracked);
      for (const t of tracked) if (found.has(t.key)) entries[stream].set(t.key, { key: t.key, hash: t.hash, entry: found.get(t.key) });
    }
  }
  const changedStreams = new Set<StreamName>();
  let metaChanged = false;
  let deleted = false;
  const received: KeyedEntry[] = [];
  // What each changed key held before the batch (undefined: nothing), to rebuild the task as
  // it was when a concurrent write displaces one of this device's entries and it is not on disk.
  // Recorded only then: a task on disk is its own record of how it was (`snapshot`).
  const undo = { ui: new Map<EntryKey, KeyedEntry | undefined>(), api: new Map<EntryKey, KeyedEntry | undefined>() };
  const historyBefore = snapshot ? null : buildHistoryItem(null, task);
  let displaced: Omit<DisplacedVersion, 'before'> | null = null;
  const setEntry = (stream: StreamName, entry: KeyedEntry): void => {
    if (!onDisk && !undo[stream].has(entry.key)) undo[stream].set(entry.key, entries[stream].get(entry.key));
    entries[stream].set(entry.key, entry);
  };
  const dropEntry = (stream: StreamName, key: EntryKey): boolean => {
    if (!onDisk && !undo[stream].has(key)) undo[stream].set(key, entries[stream].get(key));
    return entries[stream].delete(key);
  };

  for (const change of changes) {
    const body = change.body;
    // This device's own change coming back (its ack went to another reader of the outbox, or was
    // lost): the relay holds it, so it is no longer waiting to be sent.
    if (change.deviceId === ctx.deviceId) noteOwnChange(ctx, task, body, pending);
    switch (body.type) {
      case 'stream.put': {
        if (task.deleted !== null) break;
        if (pending.entities.has(change.entity) || truncatedByPending(pending, `${streamPrefix}${body.stream}`, body.key)) break;
        const tracked = task.streams[body.stream].get(body.key);
        if (tracked && tracked.seq >= change.seq) break;
        if (tracked && displacesOwn(ctx, tracked, change)) {
          if (!displaced) displaced = { seq: change.seq, by: change.deviceId, entries: 0, lost: [], divergence: divergenceOf(task, body.stream, body.key) };
          displaced.entries++;
          displaced.lost.push(tracked.hash);
        }
        const keyed = { key: body.key, hash: body.hash, entry: body.entry };
        // A held entry (task-adopt) stays on disk as it is while it is there; the put is only tracked.
        const heldRef = streamEntryKey(body.stream, body.key);
        const keepDisk = task.held.has(heldRef) && entries[body.stream].has(body.key);
        if (!keepDisk) {
          task.held.delete(heldRef);
          setEntry(body.stream, keyed);
          changedStreams.add(body.stream);
        }
        const next: TrackedEntryState = { key: body.key, hash: body.hash, own: change.deviceId === ctx.deviceId, seq: change.seq };
        const prev = next.own ? undefined : replacedVersions(tracked, body.hash);
        if (prev) next.prev = prev;
        task.streams[body.stream].set(body.key, next);
        if (body.stream === 'ui') task.cut.delete(body.key);
        received.push(keyed);
        break;
      }
      case 'stream.truncate': {
        if (task.deleted !== null) break;
        const tracked = task.streams[body.stream];
        const keys = new Set<EntryKey>([...tracked.keys(), ...entries[body.stream].keys()]);
        for (const key of keys) {
          if (body.afterKey !== null && compareEntryKeys(key, body.afterKey) <= 0) continue;
          if (pending.entities.has(`${streamPrefix}${body.stream}/${key}`)) continue;
          const synced = tracked.get(key);
          // An entry on disk that is not tracked is a local edit not yet detected: keep it.
          if (synced === undefined || synced.seq > change.seq) continue;
          tracked.delete(key);
          if (body.stream === 'ui' && change.deviceId !== ctx.deviceId) noteCut(task, synced);
          // A held one too (task-adopt): it is not the version the truncate removed.
          if (task.held.has(streamEntryKey(body.stream, key))) continue;
          if (dropEntry(body.stream, key)) changedStreams.add(body.stream);
        }
        break;
      }
      case 'task.meta': {
        if (task.deleted !== null) break;
        applyMeta(ctx, task, body);
        task.metaSeq = Math.max(task.metaSeq, change.seq);
        metaChanged = true;
        break;
      }
      case 'task.delete': {
        ctx.observe(body.clock);
        task.metaSeq = Math.max(task.metaSeq, change.seq);
        if (task.deleted === null || body.clock > task.deleted) task.deleted = body.clock;
        deleted = true;
        break;
      }
      default:
        break;
    }
  }
  await cacheEntries(ctx.entryCache, received);

  // A tombstone in the same batch: the task goes, and its copy would be the task resurrected.
  // The task as it was is the one on disk (in its own order), else what was synced.
  const kept: DisplacedVersion | null =
    displaced && task.deleted === null
      ? {
          ...displaced,
          before: snapshot
            ? { source, taskId, ui: snapshot.ui, api: snapshot.api, historyItem: snapshot.historyItem }
            : { source, taskId, ui: orderStream(entriesBefore(entries.ui, undo.ui)), api: orderStream(entriesBefore(entries.api, undo.api)), historyItem: historyBefore },
        }
      : null;
  if (deleted || task.deleted !== null) return { write: null, delete: deleted && onDisk, displaced: null };
  if (changedStreams.size === 0 && !metaChanged && snapshot !== null) return { write: null, delete: false, displaced: kept };
  const historyItem = buildHistoryItem(snapshot?.historyItem ?? null, task);
  // A task that is not on disk waits for its metadata, so the store never invents a HistoryItem.
  if (!onDisk && historyItem === null) return { write: null, delete: false, displaced: kept };
  // Metadata the disk already shows (versions it held, task-adopt): nothing to write.
  if (changedStreams.size === 0 && snapshot !== null && deepEqual(historyItem, snapshot.historyItem)) return { write: null, delete: false, displaced: kept };
  const ordered = (stream: StreamName): unknown[] =>
    orderStream([...entries[stream].values()]);
  const write: TaskSnapshot = {
    source,
    taskId,
    ui: changedStreams.has('ui') || !snapshot ? ordered('ui') : snapshot.ui,
    api: changedStreams.has('api') || !snapshot ? ordered('api') : snapshot.api,
    historyItem,
    // Written only over the files as they were read: the assistant may rewrite them meanwhile.
    read: snapshot?.read ?? { ui: null, api: null },
  };
  return { write, delete: false, displaced: kept };
}

/**
 * True when the remote put `change` replaces `tracked`, a version this device wrote and the
 * relay acknowledged, with other content, and its author had not seen that version (its
 * `baseSeq` is older, or null): a concurrent write, not an edit. Puts of this device itself
 * (its own change coming back) and edits of a version their author had seen are not.
 */
function displacesOwn(ctx: SyncContext, tracked: TrackedEntryState, change: ServerChange): boolean {
  if (change.body.type !== 'stream.put' || change.deviceId === ctx.deviceId) return false;
  if (!tracked.own || tracked.seq <= 0 || tracked.hash === change.body.hash) return false;
  return change.baseSeq === null || change.baseSeq < tracked.seq;
}

/**
 * Where the run of this device's displaced versions that `key` belongs to starts: `<stream>/<key>`
 * of the lowest key of the run. An api run goes back over entries that are this device's own or
 * that remote puts already replaced (`prev`: displaced by an earlier batch), so every batch of
 * one divergence (a device back after a long time offline sends its appends in many pages) names
 * the same start, and so the same copy (pull-cycle `keepConflictCopy`). ui keys are timestamps:
 * a ui entry is its own run.
 */
function divergenceOf(task: TaskSyncState, stream: StreamName, key: EntryKey): string {
  if (stream !== 'api') return `${stream}/${key}`;
  const tracked = task.streams.api;
  let start = Number(key);
  for (;;) {
    const before = tracked.get(String(start - 1) as EntryKey);
    if (!before || !(before.own || (before.prev?.length ?? 0) > 0)) break;
    start--;
  }
  return `api/${start}`;
}

/** The entries of a stream as they were before the batch: `now` with the `undo` record laid back. */
function entriesBefore(now: ReadonlyMap<EntryKey, KeyedEntry>, undo: ReadonlyMap<EntryKey, KeyedEntry | undefined>): KeyedEntry[] {
  const before = new Map(now);
  for (const [key, entry] of undo) {
    if (entry) before.set(key, entry);
    else before.delete(key);
  }
  return [...before.values()];
}

function noteOwnChange(ctx: SyncContext, task: TaskSyncState, body: ServerChange['body'], pending: PendingIndex): void {
  if (body.type === 'task.meta' || body.type === 'task.delete') noteMetaAcked(task, body, ctx.deviceId);
  else if (body.type === 'stream.truncate') {
    // Queued truncates are known by their key alone, and a newer one can have the key of this
    // one (the user deleting again from the same message): while the outbox still holds a
    // truncate of the stream, its own ack clears the note, not a change coming back.
    if (!pending.truncates.has(entityKeyOf(body))) noteTruncateAcked(task, body.stream, body.afterKey);
  }
}

function truncatedByPending(pending: PendingIndex, streamEntity: string, key: EntryKey): boolean {
  if (!pending.truncates.has(streamEntity)) return false;
  const afterKey = pending.truncates.get(streamEntity)!;
  return afterKey === null || compareEntryKeys(key, afterKey) > 0;
}

function applyMeta(ctx: SyncContext, task: TaskSyncState, body: TaskMetaBody): void {
  for (const clock of Object.values(body.clocks)) ctx.observe(clock);
  const merged = mergeTaskMeta({ fields: task.fields, clocks: task.clocks }, { fields: body.fields, clocks: body.clocks });
  // A counter keeps the larger value but takes the later clock. When the larger value is this
  // device's own, not yet acknowledged, it keeps its own clock here: the state marks what it
  // queued and has not seen acknowledged by own clocks above metaAcked (outbox-recovery), and a
  // journal lost with the value would otherwise leave it on this device only. (Counter clocks
  // order nothing: the value is the maximum whatever they are.)
  for (const name of COUNTER_FIELDS) {
    const own = task.clocks[name];
    if (own === undefined || merged.clocks[name] === own || !isUnackedOwnClock(task, own, ctx.deviceId)) continue;
    const mine = task.fields[name];
    if (deepEqual(merged.fields[name] ?? null, mine ?? null) && !deepEqual(body.fields[name] ?? null, mine ?? null)) merged.clocks[name] = own;
  }
  task.fields = merged.fields;
  task.clocks = merged.clocks;
}

/** The HistoryItem with the synced fields laid over it (`null` fields removed); null when none is known. */
export function buildHistoryItem(current: HistoryItem | null, task: TaskSyncState): HistoryItem | null {
  const names = Object.keys(task.fields);
  if (current === null && names.length === 0) return null;
  const item: Record<string, unknown> = current ? { ...current } : {};
  for (const name of names) {
    // A held field (task-adopt) keeps the value on disk until the device has caught up.
    if (current && task.heldFields.has(name) && current[name] !== undefined) continue;
    const value = task.fields[name];
    if (value === null || value === undefined) delete item[name];
    else item[name] = structuredClone(value);
  }
  item.id = task.taskId;
  return item as HistoryItem;
}
