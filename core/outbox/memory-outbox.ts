/**
 * An in-memory Outbox with the same queueing, coalescing, ordering and acknowledgement
 * semantics as the file journal, minus durability: for the convergence simulation and fast
 * unit tests. The file journal (core/node/outbox) is the real thing.
 */
import { SyncError } from '../errors';
import type { ClientChange } from '../model/changes';
import type { AnchorOutcome, Outbox } from '../ports/outbox';
import { isClientChange } from './journal-record';
import { assertAnchorMark, OutboxState, type ChangeInput } from './outbox-state';

export interface MemoryOutboxOptions {
  /** clientSeqs start after this (default 0: the first change gets 1). */
  lastSeq?: number;
  /**
   * Whether the numbering is already tied to the relay's (default false: a fresh outbox, which
   * the first `anchor` moves above the relay's `lastClientSeq`).
   */
  anchored?: boolean;
  /** The journal's identity (see Outbox.journalId). Default: a new random one. */
  journalId?: string;
}

export class MemoryOutbox implements Outbox {
  private readonly state: OutboxState;
  private closed = false;

  constructor(options: MemoryOutboxOptions = {}) {
    this.state = new OutboxState(options.lastSeq ?? 0, options.anchored ?? false, options.journalId ?? randomJournalId());
  }

  get journalId(): string | undefined {
    return this.state.journalId;
  }

  /** Highest clientSeq assigned so far (a restarted simulated device continues after it). */
  get lastSeq(): number {
    return this.state.lastSeq;
  }

  get size(): number {
    return this.state.size;
  }

  get anchored(): boolean {
    return this.state.anchored;
  }

  /** Queues changes; see Outbox.enqueue. Rejects with OUTBOX_CLOSED after close(). */
  async enqueue(changes: ChangeInput[]): Promise<ClientChange[]> {
    this.assertOpen();
    const invalid = changes.findIndex((c) => !isClientChange({ clientSeq: 1, baseSeq: c?.baseSeq, body: c?.body }));
    if (invalid >= 0) throw new SyncError('OUTBOX_INVALID_CHANGE', 'not a valid change', { index: invalid });
    const [planned] = this.state.planEnqueues([changes]);
    this.state.apply(planned!.record);
    return planned!.assigned;
  }

  pending(): ClientChange[] {
    return this.state.pending();
  }

  /** See Outbox.queued. */
  queued(): IterableIterator<ClientChange> {
    return this.state.queued();
  }

  /** Drops acknowledged changes; unknown or already acknowledged seqs are ignored. */
  async acknowledge(clientSeqs: readonly number[]): Promise<void> {
    this.assertOpen();
    const record = this.state.planAck(clientSeqs);
    if (record) this.state.apply(record);
  }

  /** See Outbox.anchor and OutboxState.planAnchor. Rejects with OUTBOX_CLOSED after close(). */
  async anchor(relayLastClientSeq: number): Promise<AnchorOutcome> {
    this.assertOpen();
    assertAnchorMark(relayLastClientSeq);
    const { record, outcome } = this.state.planAnchor(relayLastClientSeq);
    if (record) this.state.apply(record);
    return outcome;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new SyncError('OUTBOX_CLOSED', 'the outbox is closed');
  }
}

/** A random journal id (uniqueness among one device's journals is all it needs). */
function randomJournalId(): string {
  return `mem-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}
