/**
 * Port: the device's durable queue of changes not yet acknowledged by the relay
 * (DESIGN.md "Offline"). The file journal is in core/node/outbox.
 */
import type { ChangeBody, ClientChange } from '../model/changes';

/** What `Outbox.anchor` did. */
export interface AnchorOutcome {
  /**
   * - `kept`: the outbox was anchored and its counter at or above the relay's mark; nothing
   *   changed (queued changes at or below the mark are re-sends whose ack was lost: replays).
   * - `anchored`: a fresh outbox (no journal existed, or it was reset) moved its numbering
   *   above the relay's mark, renumbering what it had queued, none of which was ever sent.
   * - `realigned`: an anchored outbox was behind the relay (should not happen: a journal
   *   restored from a backup, a salvaged prefix, a copy on another machine); its queued changes
   *   were renumbered above the mark rather than risk being taken for replays and dropped.
   */
  action: 'kept' | 'anchored' | 'realigned';
  /** Queued changes that got a new clientSeq. */
  renumbered: number;
  /** The highest clientSeq assigned afterwards (new changes get higher ones). */
  lastSeq: number;
}

export interface Outbox {
  /**
   * Queues changes. Resolves only once they are on disk (fsync), so a change counts as queued
   * only after this resolves. Assigns each change the next clientSeq. A change to an entity
   * that already has a queued, unacknowledged change replaces it (coalescing).
   */
  enqueue(changes: Array<{ body: ChangeBody; baseSeq: number | null }>): Promise<ClientChange[]>;
  /** Queued, unacknowledged changes in clientSeq order (a copy of the queue). */
  pending(): ClientChange[];
  /**
   * The same changes, read lazily without copying the queue: a push loop that takes the first
   * few of a large queue (a migration's) stops early instead of copying it every batch. Read it
   * synchronously, without awaiting in between.
   */
  queued(): IterableIterator<ClientChange>;
  /** Drops changes the relay acknowledged (durably, like enqueue). */
  acknowledge(clientSeqs: readonly number[]): Promise<void>;
  /**
   * Ties the numbering to the relay's: `relayLastClientSeq` is the highest clientSeq the relay
   * has accepted from this device (`welcome.lastClientSeq`), every one at or below it being
   * answered as a replay. A transport calls it after each welcome and before its first push on
   * that connection; durable like enqueue. See AnchorOutcome for what it does.
   */
  anchor(relayLastClientSeq: number): Promise<AnchorOutcome>;
  /** False while the numbering has never been tied to the relay's (a fresh journal). */
  readonly anchored: boolean;
  /**
   * Identity of the journal: new whenever the journal is created afresh (no journal existed,
   * it was deleted or reset) or salvaged, the same across reopening and compaction. HybridStorage
   * records it in its sync state; a different one on open means changes it tracked as queued may
   * be gone, so it checks them and queues the missing ones again. Undefined when the outbox
   * cannot tell (a journal from before ids): it then checks on every open.
   */
  readonly journalId?: string;
  /** Number of queued, unacknowledged changes. */
  readonly size: number;
  close(): Promise<void>;
}
