/**
 * One user's change log as the protocol defines it (DESIGN.md "Ordering, idempotency,
 * cursors"): numbers 1, 2, 3... per user, idempotent by (deviceId, clientSeq), base-version
 * conflicts for entities that do not merge, pages by cursor, compaction that keeps the latest
 * change of every entity.
 */
import type { DeviceId } from '../ids';
import { entityKeyOf, isMergeable, type ClientChange, type ServerChange, type TaskMetaBody } from '../model/changes';
import type { AcceptedChange, ChangeConflict } from '../protocol/messages';
import { foldMetaBodies } from '../merge/metadata-merge';

/** What one push did to the log. */
export interface PushResult {
  /** Every change now in the log under its (deviceId, clientSeq): new ones and replays, in push order. */
  accepted: AcceptedChange[];
  /** Changes refused because their `baseSeq` was stale. */
  conflicts: ChangeConflict[];
  /** Changes this push added to the log (not replays), in seq order: what live fan-out sends. */
  committed: ServerChange[];
}

export interface LogPage {
  changes: ServerChange[];
  /** Seq of the last change in the page; the request cursor when the page is empty. */
  cursor: number;
  hasMore: boolean;
}

export class ChangeLog {
  private head = 0;
  /** Stored changes in seq order (gaps where compaction removed some). */
  private readonly entries: ServerChange[] = [];
  private readonly latestByEntity = new Map<string, ServerChange>();
  /** entity -> device -> seq of that device's latest change of it (for the base-version check). */
  private readonly latestSeqByEntityDevice = new Map<string, Map<DeviceId, number>>();
  /** `${deviceId}\n${clientSeq}` -> seq; kept through compaction so replays stay idempotent. */
  private readonly seqByClientKey = new Map<string, number>();
  /** Highest clientSeq stored per device; compaction never lowers it (see `lastClientSeq`). */
  private readonly lastClientSeqByDevice = new Map<DeviceId, number>();
  private maxRemovedSeq = 0;

  /** Highest seq ever given out (0 when empty). */
  get serverCursor(): number {
    return this.head;
  }

  /** Highest seq removed by compaction (0 when none): a cursor below it missed something for good. */
  get compactedThrough(): number {
    return this.maxRemovedSeq;
  }

  /** Number of changes stored. */
  get size(): number {
    return this.entries.length;
  }

  /**
   * True when a device at `cursor` cannot catch up by pulling from it: compaction removed a
   * change after it, or the cursor is ahead of this log (it came from a log that is gone).
   */
  needsResync(cursor: number): boolean {
    return cursor < this.maxRemovedSeq || cursor > this.head;
  }

  /**
   * Highest clientSeq this log has accepted from `deviceId` (0 for none), including changes
   * compaction removed since: every clientSeq at or below it is answered as a replay, so a
   * device must number new changes above it (`welcome.lastClientSeq`).
   */
  lastClientSeq(deviceId: DeviceId): number {
    return this.lastClientSeqByDevice.get(deviceId) ?? 0;
  }

  /** The latest change of an entity, if any. */
  latest(entity: string): ServerChange | undefined {
    return this.latestByEntity.get(entity);
  }

  /**
   * Applies a push from one device. Changes are taken in order: a known (deviceId, clientSeq)
   * is answered with its original seq; a non-mergeable change is a conflict when ANOTHER
   * device changed the entity after its `baseSeq` (null = no version seen) — a device's own
   * queued edits of one entity never conflict with each other; every other change gets the
   * next seq.
   * `changes` are copied; the caller may reuse them.
   */
  push(deviceId: DeviceId, changes: readonly ClientChange[]): PushResult {
    const result: PushResult = { accepted: [], conflicts: [], committed: [] };
    for (const change of changes) {
      const clientKey = `${deviceId}\n${change.clientSeq}`;
      const known = this.seqByClientKey.get(clientKey);
      if (known !== undefined) {
        result.accepted.push({ clientSeq: change.clientSeq, seq: known });
        continue;
      }
      const entity = entityKeyOf(change.body);
      const current = this.latestByEntity.get(entity);
      if (!isMergeable(change.body) && current !== undefined && this.latestSeqByOthers(entity, deviceId) > (change.baseSeq ?? 0)) {
        result.conflicts.push({ clientSeq: change.clientSeq, entity, current });
        continue;
      }
      const stored: ServerChange = {
        seq: ++this.head,
        deviceId,
        entity,
        clientSeq: change.clientSeq,
        baseSeq: change.baseSeq,
        body: structuredClone(change.body),
      };
      this.entries.push(stored);
      this.latestByEntity.set(entity, stored);
      let byDevice = this.latestSeqByEntityDevice.get(entity);
      if (!byDevice) this.latestSeqByEntityDevice.set(entity, (byDevice = new Map()));
      byDevice.set(deviceId, stored.seq);
      this.seqByClientKey.set(clientKey, stored.seq);
      if (change.clientSeq > this.lastClientSeq(deviceId)) this.lastClientSeqByDevice.set(deviceId, change.clientSeq);
      result.accepted.push({ clientSeq: change.clientSeq, seq: stored.seq });
      result.committed.push(stored);
    }
    return result;
  }

  /** Seq of the latest change of `entity` by a device other than `deviceId` (0 when none). */
  private latestSeqByOthers(entity: string, deviceId: DeviceId): number {
    let latest = 0;
    for (const [device, seq] of this.latestSeqByEntityDevice.get(entity) ?? []) {
      if (device !== deviceId && seq > latest) latest = seq;
    }
    return latest;
  }

  /** Up to `limit` changes with `seq > cursor`, in seq order. */
  pull(cursor: number, limit: number): LogPage {
    const start = this.firstIndexAfter(cursor);
    const end = Math.min(this.entries.length, start + Math.max(1, limit));
    const changes = this.entries.slice(start, end);
    return {
      changes,
      cursor: changes.length > 0 ? changes[changes.length - 1]!.seq : cursor,
      hasMore: end < this.entries.length,
    };
  }

  /**
   * Removes every change with `seq < olderThanSeq` that is not the latest of its entity,
   * except truncates: an older truncate still removes entries a newer one (with a later
   * `afterKey`) leaves, so dropping it would bring deleted entries back. task.meta changes
   * carry only the fields that changed, so the fields of removed ones are first folded into
   * the task's latest change (see `foldTaskMeta`). Returns how many were removed.
   */
  compact(olderThanSeq: number): number {
    const isRemoved = (entry: ServerChange) =>
      entry.seq < olderThanSeq && entry.body.type !== 'stream.truncate' && this.latestByEntity.get(entry.entity) !== entry;
    this.foldTaskMeta(isRemoved);
    let kept = 0;
    let removed = 0;
    for (const entry of this.entries) {
      const keep = !isRemoved(entry);
      if (keep) {
        this.entries[kept++] = entry;
      } else {
        removed++;
        this.maxRemovedSeq = Math.max(this.maxRemovedSeq, entry.seq);
      }
    }
    this.entries.length = kept;
    return removed;
  }

  /**
   * Replaces the latest task.meta change of every task that is about to lose older task.meta
   * changes with one carrying all their fields (from the last task.delete on: older fields
   * described a task that no longer exists), so a device that resyncs still gets every field.
   */
  private foldTaskMeta(isRemoved: (entry: ServerChange) => boolean): void {
    const history = new Map<string, ServerChange[]>();
    for (const entry of this.entries) {
      if (entry.body.type !== 'task.meta' && entry.body.type !== 'task.delete') continue;
      const list = history.get(entry.entity);
      if (list) list.push(entry);
      else history.set(entry.entity, [entry]);
    }
    for (const [entity, changes] of history) {
      const latest = changes[changes.length - 1]!;
      if (latest.body.type !== 'task.meta') continue;
      if (!changes.some((c) => c.body.type === 'task.meta' && isRemoved(c))) continue;
      const lastDelete = changes.map((c) => c.body.type).lastIndexOf('task.delete');
      const metas = changes.slice(lastDelete + 1).map((c) => c.body as TaskMetaBody);
      const folded: ServerChange = { ...latest, body: foldMetaBodies(metas) };
      this.entries[this.entries.indexOf(latest)] = folded;
      this.latestByEntity.set(entity, folded);
    }
  }

  private firstIndexAfter(cursor: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid]!.seq <= cursor) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

