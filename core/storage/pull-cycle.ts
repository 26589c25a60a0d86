/**
 * The pull half of a sync: pages of the user's log from the cursor, applied in order.
 *
 * Per page: (1) local edits of the affected tasks and files are detected and queued first, so
 * applying cannot overwrite them; (2) the page is journaled in the sync state; (3) the sync
 * state is updated in memory and the stores are written (no echo: nothing can detect between
 * the two, HybridStorage runs one operation at a time); (4) the cursor advances and the state
 * is saved. A crash in (3) replays the journal on open: applying is idempotent.
 */
import { SyncError, isSyncError } from '../errors';
import type { TaskId } from '../ids';
import { entityKeyOf, compareEntryKeys, type ClientChange, type EntryKey, type ServerChange, type TaskSource } from '../model/changes';
import type { TaskSnapshot, TaskStore } from '../ports/task-store';
import { applyFileChanges, detectFileChanges } from './file-sync';
import { StorageErrorCode } from './storage-errors';
import { taskOfStateKey, taskStateKey, type ApplyJournal, type SyncState, type TaskSyncState } from './sync-state';
import type { EngineDeps } from './sync-context';
import { applyTaskChanges, type PendingIndex } from './task-apply';
import { adoptHeldChanges, catchingUp, releaseHeld, releaseTaskHeld, streamEntryKey, type Adopted } from './task-adopt';
import { detectTaskChanges, type PlannedChange } from './task-detect';
import { editsSinceCrash } from './task-replay';
import { clearDeferred, deferChanges, isWaiting, readForApply, waitingTasks, withDeferred, type WaitingTask } from './task-defer';
import { buildTaskCopy, COPY_ID_ATTEMPTS, copyHolds, isTaskConflictCopy, taskCopyId, type DisplacedVersion } from './task-conflict-copy';

export interface PullReport {
  /** Changes pulled and applied (or skipped as already held), this device's own included. */
  applied: number;
  /** Of `applied`, the changes other devices made (a first pull also returns this device's own). */
  received: number;
  pages: number;
  /** Remote paths refused as unsafe. */
  refusedPaths: string[];
  /**
   * Tasks whose pulled changes wait, after this pull, because their files cannot be read (a
   * corrupt file): applied once the files read again (core/storage/task-defer.ts).
   */
  waiting: WaitingTask[];
}

/** A task as read before applying, with whether detection restored entries into it. */
interface ReadTask {
  snapshot: TaskSnapshot | null;
  restored: boolean;
}

interface PageGroups {
  tasks: Map<string, { source: TaskSource; taskId: string; changes: ServerChange[] }>;
  files: Map<string, ServerChange[]>;
}

/**
 * Pulls and applies every page after the cursor. Throws STORAGE_SYNC_FAILED when the transport fails.
 *
 * A device far behind (back from a long time offline, or the other device was) takes pages of
 * `pageSize` until it holds `applyBatch` changes and applies them as one: each task of the batch
 * is read, merged and written once for all of them, instead of once per page (a long task is
 * rewritten whole every time, so per page the work grew with pages x task size). What was pulled
 * is applied before a transport failure is thrown, so nothing received is pulled twice.
 */
export async function pullAll(deps: EngineDeps, pageSize: number, applyBatch = pageSize): Promise<PullReport> {
  const report: PullReport = { applied: 0, received: 0, pages: 0, refusedPaths: [], waiting: [] };
  // Tasks whose changes wait for their files are tried again even when the log has nothing new.
  if (deps.ctx.state.waiting.size > 0) await applyPage(deps, { changes: [], cursor: deps.ctx.state.cursor });
  let resynced = false;
  let held: ServerChange[] = [];
  let heldCursor = deps.ctx.state.cursor;
  const applyHeld = async (): Promise<void> => {
    if (held.length === 0 && heldCursor <= deps.ctx.state.cursor) return;
    const applied = await applyReported(deps, held, Math.max(heldCursor, deps.ctx.state.cursor));
    report.refusedPaths.push(...applied.refusedPaths);
    report.applied += applied.applied;
    report.received += applied.received;
    held = [];
  };
  for (;;) {
    let page;
    try {
      page = await deps.transport.pull(heldCursor, pageSize);
    } catch (err) {
      // The relay compacted changes after our cursor that we never saw: pull everything from 0
      // once (applying is idempotent, so what we already have does not double).
      if (isSyncError(err, 'CURSOR_COMPACTED') && !resynced && heldCursor > 0) {
        resynced = true;
        held = [];
        deps.ctx.state.cursor = 0;
        heldCursor = 0;
        await deps.saveState();
        continue;
      }
      await applyHeld();
      report.waiting = waitingTasks(deps.ctx.state);
      throw new SyncError(StorageErrorCode.SYNC_FAILED, 'pull failed; the cursor stays', undefined, { cause: err });
    }
    report.pages++;
    for (const change of page.changes) if (change.seq > heldCursor) held.push(change);
    heldCursor = Math.max(heldCursor, page.cursor, ...page.changes.map((c) => c.seq));
    const done = !page.hasMore || page.changes.length === 0;
    if (done || held.length >= applyBatch) await applyHeld();
    if (done) {
      if (!deps.ctx.state.caughtUp) {
        deps.ctx.state.caughtUp = true;
        // What matched no version in the whole log is a local edit: detection sends it now.
        releaseHeld(deps.ctx.state);
        await deps.saveState();
      }
      report.waiting = waitingTasks(deps.ctx.state);
      return report;
    }
  }
}

/** Applies `changes` as one page up to `cursor` and reports them (no page was pulled for them). */
export async function applyReported(deps: EngineDeps, changes: ServerChange[], cursor: number): Promise<PullReport> {
  const refusedPaths = await applyPage(deps, { changes, cursor });
  return {
    applied: changes.length,
    received: changes.filter((c) => c.deviceId !== deps.ctx.deviceId).length,
    pages: 0,
    refusedPaths,
    waiting: waitingTasks(deps.ctx.state),
  };
}

/**
 * Applies one page: detect first, journal, apply, advance the cursor. The changes of a task
 * whose files cannot be read wait for it (task-defer), and the tasks already waiting are tried
 * again with the page.
 */
export async function applyPage(deps: EngineDeps, journal: ApplyJournal): Promise<string[]> {
  const groups = groupPage(journal.changes, deps.ctx.state);
  const snapshots = new Map<string, ReadTask>();
  const planned: PlannedChange[] = [];
  const pending = pendingIndex(deps.outbox.queued());
  /** Whether a task's changes began to wait (or more of them) in this page. */
  let deferred = false;
  for (const [key, group] of groups.tasks) {
    const store = syncedStore(deps, group);
    if (!store) continue;
    const read = await readForApply(store, group.taskId as TaskId);
    if ('unreadable' in read) {
      if (deferChanges(deps.ctx.state, deps.ctx.state.task(group.source, group.taskId as TaskId), group.changes, read.unreadable, deps.ctx.deviceId)) deferred = true;
      groups.tasks.delete(key);
      continue;
    }
    const snapshot = read.snapshot;
    if (!snapshot) {
      snapshots.set(key, { snapshot, restored: false });
      continue;
    }
    const task = deps.ctx.state.task(group.source, snapshot.taskId);
    const { adopted, hold } = adoptPulled(deps, snapshot, task, group.changes, pending);
    const detected = await detectTaskChanges(deps.ctx, snapshot, task, { scope: overwrittenBy(group.changes, adopted.siblings, hold) });
    // Stale fields (an older version on disk) are left to the apply, which writes the tracked one.
    for (const name of adopted.staleFields) task.heldFields.delete(name);
    planned.push(...detected.changes);
    snapshots.set(key, { snapshot: detected.rewrite ?? snapshot, restored: detected.rewrite !== null });
  }
  for (const [workspaceId, changes] of groups.files) {
    const files = deps.workspaceFor(workspaceId);
    if (files) planned.push(...(await detectFileChanges(deps.ctx, files, new Set(changes.map((c) => (c.body as { path: string }).path)))));
  }
  if (journal.changes.length === 0 && journal.cursor <= deps.ctx.state.cursor && groups.tasks.size === 0 && groups.files.size === 0) {
    // Only waiting tasks were tried (see pullAll), and none reads yet.
    if (deferred) await deps.saveState();
    return [];
  }
  if (planned.length > 0) await deps.outbox.enqueue(planned);
  deps.ctx.state.journal = journal;
  await deps.saveState();
  const refused = await applyGroups(deps, snapshots, groups);
  deps.ctx.state.cursor = Math.max(deps.ctx.state.cursor, journal.cursor);
  deps.ctx.state.skipOwn();
  deps.ctx.state.journal = null;
  await deps.saveState();
  return refused;
}

/**
 * Applies again a journaled page whose apply a crash cut short (HybridStorage's recovery on
 * open). A task's entries and HistoryItem fields that hold neither what the state tracks nor a
 * version the page puts there were edited after the crash (task-replay): they are detected and
 * queued first, so the apply keeps them. The rest of the disk may be the page's own writes and
 * is not detected (that would send them back). Tasks that cannot be read wait (task-defer).
 */
export async function replayJournal(deps: EngineDeps, journal: ApplyJournal): Promise<string[]> {
  const groups = groupPage(journal.changes, deps.ctx.state);
  const snapshots = new Map<string, ReadTask>();
  const planned: PlannedChange[] = [];
  const pending = pendingIndex(deps.outbox.queued());
  for (const [key, group] of groups.tasks) {
    const store = syncedStore(deps, group);
    if (!store) continue;
    const task = deps.ctx.state.task(group.source, group.taskId as TaskId);
    const read = await readForApply(store, task.taskId);
    if ('unreadable' in read) {
      deferChanges(deps.ctx.state, task, group.changes, read.unreadable, deps.ctx.deviceId);
      groups.tasks.delete(key);
      continue;
    }
    const snapshot = read.snapshot;
    // Changes that waited for this task's files may not have been read in the page a crash cut
    // short: what the disk holds of them is adopted first, as applyPage does (a second time
    // changes nothing).
    const adopted = snapshot && isWaiting(deps.ctx.state, task) ? adoptPulled(deps, snapshot, task, group.changes, pending).adopted : null;
    const siblings = adopted?.siblings ?? new Set<string>();
    const edits = snapshot && editsSinceCrash(deps.ctx.state, deps.ctx.deviceId, snapshot, task, group.changes);
    const scope = edits || siblings.size > 0 ? { keys: new Set([...(edits?.keys ?? []), ...siblings]), meta: edits?.meta ?? false } : null;
    if (snapshot && scope) {
      const detected = await detectTaskChanges(deps.ctx, snapshot, task, { scope });
      planned.push(...detected.changes);
      snapshots.set(key, { snapshot: detected.rewrite ?? snapshot, restored: detected.rewrite !== null });
    } else {
      snapshots.set(key, { snapshot, restored: false });
    }
    // Stale fields (an older version on disk) stay held through detection, as in applyPage.
    for (const name of adopted?.staleFields ?? []) task.heldFields.delete(name);
  }
  if (planned.length > 0) {
    await deps.outbox.enqueue(planned);
    await deps.saveState();
  }
  return applyGroups(deps, snapshots, groups);
}

/**
 * Applies a journaled page's `groups` (with what waited) to the stores, each task as read (and
 * restored) just before, in `snapshots`.
 */
async function applyGroups(deps: EngineDeps, snapshots: ReadonlyMap<string, ReadTask>, groups: PageGroups): Promise<string[]> {
  const pending = pendingIndex(deps.outbox.queued());
  const copies: PlannedChange[] = [];
  for (const [key, group] of groups.tasks) {
    const store = syncedStore(deps, group);
    const read = snapshots.get(key);
    if (!store || !read) continue;
    const taskId = group.taskId as TaskId;
    const task = deps.ctx.state.task(group.source, taskId);
    const result = await applyTaskChanges(deps.ctx, read.snapshot, task, group.changes, pending);
    const waited = isWaiting(deps.ctx.state, task);
    clearDeferred(deps.ctx.state, task);
    // Its part of the log is applied now: once caught up, what it still holds matched nothing
    // there and is a local edit (as releaseHeld at the end of the catch-up for the others).
    if (waited && deps.ctx.state.caughtUp) releaseTaskHeld(deps.ctx.state, task);
    // The copy is on disk before the task loses what it keeps, so a crash in between loses nothing.
    if (result.displaced) copies.push(...(await keepConflictCopy(deps, store, result.displaced)));
    if (result.delete) await store.deleteTask(taskId);
    else if (result.write) await store.writeTask(result.write);
    else if (read.restored && read.snapshot) await store.writeTask(read.snapshot); // entries a stale rewrite lost
  }
  const refused: string[] = [];
  for (const [workspaceId, changes] of groups.files) {
    const files = deps.workspaceFor(workspaceId);
    if (files) refused.push(...(await applyFileChanges(deps.ctx, files, changes, pending)));
  }
  // Queued before the caller saves the state that records them (as detection does).
  if (copies.length > 0) await deps.outbox.enqueue(copies);
  return refused;
}

/**
 * Keeps the version of a task a batch displaced (see TaskApplyResult.displaced) as a task
 * conflict copy: writes it through the store under a new id, unless an earlier run of the same
 * batch (a crash replay) already did, and detects it like a new local task, so it syncs to every
 * device. Returns the changes to queue for it.
 */
export async function keepConflictCopy(deps: EngineDeps, store: TaskStore, displaced: DisplacedVersion): Promise<PlannedChange[]> {
  const { ctx } = deps;
  const { source, taskId } = displaced.before;
  let copy: TaskSnapshot | null = null;
  for (let attempt = 0; copy === null; attempt++) {
    // First the divergence's own candidates (one copy per divergence); when each holds less than
    // this batch displaced (a long run of concurrent writes keeps displacing new versions from the
    // same start), candidates of this batch's own (its first displacing seq), as before.
    const copyId = attempt < COPY_ID_ATTEMPTS
      ? taskCopyId(taskId, ctx.deviceId, displaced.divergence, attempt)
      : taskCopyId(taskId, ctx.deviceId, displaced.seq, attempt - COPY_ID_ATTEMPTS);
    const existing = await store.readTask(copyId);
    if (existing === null) {
      copy = buildTaskCopy(displaced, copyId, ctx.deviceId, ctx.now());
      await store.writeTask(copy);
      const title = copy.historyItem?.['task'];
      deps.taskCopyMade({ source, taskId, copyId, title: typeof title === 'string' ? title : null });
      // The store may complete the HistoryItem (or rebuild the streams' form): detect what it holds.
      copy = (await store.readTask(copyId)) ?? copy;
    } else if (isTaskConflictCopy(existing.historyItem, ctx.deviceId) && copyHolds(existing, displaced.lost)) {
      // Written by an earlier run of this batch, or by an earlier batch of the same divergence:
      // it already keeps every version this one displaced. Detected again below: a crash may
      // have come between writing it and queueing it (nothing is queued when it is synced).
      copy = existing;
    } else if (attempt >= 3 * COPY_ID_ATTEMPTS) {
      throw new SyncError(StorageErrorCode.COPY_ID_TAKEN, `no free id for a conflict copy of task ${taskId}`, { source, taskId });
    }
  }
  const detected = await detectTaskChanges(ctx, copy, ctx.state.task(source, copy.taskId));
  if (detected.rewrite) await store.writeTask(detected.rewrite);
  return detected.changes;
}

/**
 * What the disk already holds of a task's pulled `changes` (a backfilled store) is taken as
 * synced, not as local edits; while the task catches up (`hold`), what may be a later version in
 * the log is held (task-adopt). The caller releases `adopted.staleFields` after its detection.
 */
function adoptPulled(deps: EngineDeps, snapshot: TaskSnapshot, task: TaskSyncState, changes: readonly ServerChange[], pending: PendingIndex): { adopted: Adopted; hold: boolean } {
  const hold = catchingUp(deps.ctx.state, task);
  const adopted = adoptHeldChanges(snapshot, task, changes, pending, { deviceId: deps.ctx.deviceId, hold });
  if (adopted.entries + adopted.fields + adopted.held > 0) deps.ctx.state.markDirty(task);
  return { adopted, hold };
}

/**
 * What detection must look at before `changes` (one task's) are applied, besides what the state
 * tracks: what the apply could overwrite, the keys they put and, when they set metadata, the
 * HistoryItem; everything when one deletes the task. While catching up, those are adopted or
 * held instead (task-adopt), which the apply leaves on disk. Always `siblings` (see Adopted).
 * Untracked entries elsewhere are kept by the apply (task-apply), so their detection can wait.
 */
function overwrittenBy(changes: readonly ServerChange[], siblings: ReadonlySet<string>, catchingUp: boolean): { keys: Set<string>; meta: boolean } | undefined {
  const keys = new Set(siblings);
  let meta = false;
  for (const { body } of changes) {
    if (body.type === 'task.delete') return undefined;
    if (catchingUp) continue;
    if (body.type === 'task.meta') meta = true;
    else if (body.type === 'stream.put') keys.add(streamEntryKey(body.stream, body.key));
  }
  return { keys, meta };
}

/** What the outbox holds, as applying needs it. */
export function pendingIndex(pending: Iterable<ClientChange>): PendingIndex {
  const entities = new Set<string>();
  const truncates = new Map<string, EntryKey | null>();
  for (const change of pending) {
    const entity = entityKeyOf(change.body);
    entities.add(entity);
    if (change.body.type === 'stream.truncate') {
      const before = truncates.get(entity);
      const key = change.body.afterKey;
      if (before === undefined || key === null || (before !== null && compareEntryKeys(key, before) < 0)) truncates.set(entity, key);
    }
  }
  return { entities, truncates };
}

/**
 * The store of a page's task group, or undefined when this device does not sync that store:
 * its changes are skipped, and what waited for one of its tasks is dropped with them.
 */
function syncedStore(deps: EngineDeps, group: { source: TaskSource; taskId: string }): TaskStore | undefined {
  const store = deps.storeFor(group.source);
  if (!store) deps.ctx.state.clearWaiting(taskStateKey(group.source, group.taskId));
  return store;
}

/**
 * The page's changes per task and per workspace, in seq order. Each task's waiting changes
 * (task-defer) join its group, and every task with waiting changes has a group.
 */
function groupPage(changes: readonly ServerChange[], state: SyncState): PageGroups {
  const groups: PageGroups = { tasks: new Map(), files: new Map() };
  for (const change of [...changes].sort((a, b) => a.seq - b.seq)) {
    const body = change.body;
    if (body.type === 'file.put' || body.type === 'file.delete') {
      const list = groups.files.get(body.workspaceId) ?? [];
      list.push(change);
      groups.files.set(body.workspaceId, list);
      continue;
    }
    const key = taskStateKey(body.source, body.taskId);
    const group = groups.tasks.get(key) ?? { source: body.source, taskId: body.taskId, changes: [] };
    group.changes.push(change);
    groups.tasks.set(key, group);
  }
  for (const key of state.waiting.keys()) {
    const group = groups.tasks.get(key) ?? { ...taskOfStateKey(key), changes: [] };
    group.changes = withDeferred(state, key, group.changes);
    groups.tasks.set(key, group);
  }
  return groups;
}
