/**
 * The queue an outbox holds, as a pure state machine over journal records: both the in-memory
 * outbox and the file journal plan records here, and the file journal rebuilds itself on open
 * by applying the records it reads. Applying a record is the only way the state changes.
 */
import { SyncError } from '../errors';
import { entityKeyOf, type ChangeBody, type ClientChange } from '../model/changes';
import type { AnchorOutcome } from '../ports/outbox';
import { coalesceChanges } from './coalesce';
import type { AckRecord, AnchorRecord, EnqueueRecord, JournalRecord } from './journal-record';

/** What a caller hands to `enqueue`. */
export interface ChangeInput {
  body: ChangeBody;
  baseSeq: number | null;
}

/** The records one group commit writes, and what each enqueue call gets back. */
export interface PlannedEnqueue {
  record: EnqueueRecord;
  /** One change per input, in input order (a coalesced one carries the merged body). */
  assigned: ClientChange[];
}

interface LiveChange {
  change: ClientChange;
  entity: string;
  /** Approximate bytes this change occupies in the journal (for compaction decisions). */
  bytes: number;
}

export class OutboxState {
  /** Highest clientSeq ever assigned (0 before the first). */
  private seq: number;
  /** clientSeq of the last change applied: changes must arrive in increasing order. */
  private lastApplied = 0;
  /** Insertion order is clientSeq order: every new change has a higher seq than all before. */
  private readonly live = new Map<number, LiveChange>();
  /** Live seqs of each entity, ascending (usually one; two only when they could not coalesce). */
  private readonly byEntity = new Map<string, number[]>();
  private bytes = 0;
  /** Numbering tied to the relay's (see `planAnchor`). */
  private isAnchored: boolean;
  /** The journal's identity (HeadRecord.journalId); undefined for journals from before it. */
  private id: string | undefined;

  /** A fresh queue is not anchored unless told otherwise (a head record also sets it). */
  constructor(lastSeq = 0, anchored = false, journalId?: string) {
    this.seq = lastSeq;
    this.isAnchored = anchored;
    this.id = journalId;
  }

  /** The journal's identity, from its head record (see HeadRecord.journalId). */
  get journalId(): string | undefined {
    return this.id;
  }

  /** Highest clientSeq assigned so far. */
  get lastSeq(): number {
    return this.seq;
  }

  /** True once the numbering is tied to the relay's (an anchor record, or an anchored head). */
  get anchored(): boolean {
    return this.isAnchored;
  }

  get size(): number {
    return this.live.size;
  }

  /** Approximate journal bytes the live changes occupy. */
  get liveBytes(): number {
    return this.bytes;
  }

  has(clientSeq: number): boolean {
    return this.live.has(clientSeq);
  }

  /** Queued changes in clientSeq order (a copy; see `queued` to read without copying). */
  pending(): ClientChange[] {
    return [...this.queued()];
  }

  /**
   * Queued changes in clientSeq order, read lazily without copying the queue: a caller that
   * wants the first few stops early. Read it synchronously: a change acknowledged meanwhile is
   * skipped, but applying an anchor record restarts the numbering under a running iteration.
   */
  *queued(): IterableIterator<ClientChange> {
    for (const { change } of this.live.values()) yield change;
  }

  /** Queued changes in clientSeq order, `size` at a time (the last chunk may be shorter). */
  *pendingChunks(size: number): IterableIterator<ClientChange[]> {
    let chunk: ClientChange[] = [];
    for (const change of this.queued()) {
      chunk.push(change);
      if (chunk.length >= size) {
        yield chunk;
        chunk = [];
      }
    }
    if (chunk.length > 0) yield chunk;
  }

  /**
   * Plans the enqueue records for several calls committed together, in call order, without
   * changing the state: seqs continue from `lastSeq`, and each change coalesces with the latest
   * queued change of its entity (including ones planned earlier in the same group). Seqs in
   * `gone` (acknowledged in the same group) are treated as no longer queued.
   */
  planEnqueues(calls: ReadonlyArray<readonly ChangeInput[]>, gone: ReadonlySet<number> = new Set()): PlannedEnqueue[] {
    let seq = this.seq;
    /** Latest change per entity as planned so far in this group (null: planned away). */
    const latest = new Map<string, ClientChange | null>();
    const latestOf = (entity: string): ClientChange | null => {
      if (latest.has(entity)) return latest.get(entity)!;
      const seqs = this.byEntity.get(entity)?.filter((s) => !gone.has(s));
      return seqs?.length ? this.live.get(seqs[seqs.length - 1]!)!.change : null;
    };
    return calls.map((inputs) => {
      const changes: ClientChange[] = [];
      const drop: number[] = [];
      const assigned: ClientChange[] = [];
      for (const input of inputs) {
        const fresh: ClientChange = { clientSeq: ++seq, baseSeq: input.baseSeq, body: input.body };
        const entity = entityKeyOf(input.body);
        const previous = latestOf(entity);
        const merged = previous ? coalesceChanges(previous, fresh) : null;
        if (previous && merged) {
          const inThisCall = changes.indexOf(previous);
          if (inThisCall >= 0) changes.splice(inThisCall, 1);
          else drop.push(previous.clientSeq);
        }
        const queued = merged ?? fresh;
        changes.push(queued);
        assigned.push(queued);
        latest.set(entity, queued);
      }
      return { record: { kind: 'enqueue', changes, drop }, assigned };
    });
  }

  /**
   * Plans what the relay's `lastClientSeq` (every clientSeq at or below it is answered as a
   * replay and stores nothing) asks of this queue, without changing the state:
   * - anchored, counter at or above it: nothing (record null). Queued changes at or below it
   *   were sent before and their ack was lost; they keep their numbers, so the relay answers
   *   them as replays and stores them once.
   * - not anchored (a fresh journal: the device's earlier one was lost or reset): every queued
   *   change moves above it. None was ever sent: the transport anchors before the first push.
   * - anchored but behind it (should not happen: a journal restored from a backup, the valid
   *   prefix of a salvaged one, or one copied to another machine with the same credentials):
   *   the queue cannot tell which of its changes the relay already holds under the same
   *   numbers, so every queued change moves above the mark. The choice is between a change
   *   silently dropped as a false replay and, at worst, a second copy of one whose ack was
   *   lost, which applies like any newer version of its entity; losing data is the worse one.
   *   The transport reports it (`realigned`).
   */
  planAnchor(relayLastClientSeq: number): { record: AnchorRecord | null; outcome: AnchorOutcome } {
    if (this.isAnchored && this.seq >= relayLastClientSeq) {
      return { record: null, outcome: { action: 'kept', renumbered: 0, lastSeq: this.seq } };
    }
    return {
      record: { kind: 'anchor', after: relayLastClientSeq },
      outcome: {
        action: this.isAnchored ? 'realigned' : 'anchored',
        renumbered: this.live.size,
        lastSeq: relayLastClientSeq + this.live.size,
      },
    };
  }

  /** Plans an ack record for the seqs that are still queued, or null when none is. */
  planAck(clientSeqs: readonly number[]): AckRecord | null {
    const seqs = [...new Set(clientSeqs)].filter((s) => this.live.has(s));
    return seqs.length ? { kind: 'ack', seqs } : null;
  }

  /**
   * Applies one record. `bytes` is the record's size in the journal, spread over its changes.
   * Throws OUTBOX_CORRUPT when the record breaks the journal's invariants (a head after the
   * start, or a clientSeq that does not increase).
   */
  apply(record: JournalRecord, bytes = 0): void {
    switch (record.kind) {
      case 'head':
        if (this.live.size > 0 || this.lastApplied > 0 || record.lastSeq < this.seq) {
          throw new SyncError('OUTBOX_CORRUPT', 'journal head record out of place', { lastSeq: record.lastSeq });
        }
        this.seq = record.lastSeq;
        // Journals from before anchoring existed have numbered continuously all along.
        this.isAnchored = record.anchored ?? true;
        this.id = record.journalId;
        return;
      case 'anchor':
        this.renumberAfter(record.after);
        return;
      case 'ack':
        for (const s of record.seqs) this.remove(s);
        return;
      case 'enqueue': {
        for (const s of record.drop) this.remove(s);
        const each = record.changes.length ? bytes / record.changes.length : 0;
        for (const change of record.changes) {
          if (change.clientSeq <= this.lastApplied) {
            throw new SyncError('OUTBOX_CORRUPT', 'journal clientSeq does not increase', {
              clientSeq: change.clientSeq,
              previous: this.lastApplied,
            });
          }
          this.lastApplied = change.clientSeq;
          this.seq = Math.max(this.seq, change.clientSeq);
          const entity = entityKeyOf(change.body);
          this.live.set(change.clientSeq, { change, entity, bytes: each });
          this.bytes += each;
          const seqs = this.byEntity.get(entity);
          if (seqs) seqs.push(change.clientSeq);
          else this.byEntity.set(entity, [change.clientSeq]);
        }
        return;
      }
    }
  }

  /** Renumbers the queued changes `after + 1`, `after + 2`, ... in order; the queue is anchored. */
  private renumberAfter(after: number): void {
    const entries = [...this.live.values()];
    this.live.clear();
    this.byEntity.clear();
    let seq = after;
    for (const entry of entries) {
      const clientSeq = ++seq;
      this.live.set(clientSeq, { ...entry, change: { ...entry.change, clientSeq } });
      const seqs = this.byEntity.get(entry.entity);
      if (seqs) seqs.push(clientSeq);
      else this.byEntity.set(entry.entity, [clientSeq]);
    }
    this.seq = seq;
    this.lastApplied = seq;
    this.isAnchored = true;
  }

  private remove(clientSeq: number): void {
    const entry = this.live.get(clientSeq);
    if (!entry) return;
    this.live.delete(clientSeq);
    this.bytes -= entry.bytes;
    const seqs = this.byEntity.get(entry.entity)!;
    seqs.splice(seqs.indexOf(clientSeq), 1);
    if (seqs.length === 0) this.byEntity.delete(entry.entity);
  }
}

/** Throws OUTBOX_INVALID_ANCHOR unless `value` can be a relay's `lastClientSeq` (a safe integer >= 0). */
export function assertAnchorMark(value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new SyncError('OUTBOX_INVALID_ANCHOR', 'the relay mark must be an integer >= 0', { value });
  }
}
