/**
 * Port: the device's durable queue of changes not yet acknowledged by the relay
 * (DESIGN.md "Offline"). The file journal is in core/node/outbox.
 */
import type { ChangeBody, ClientChange } from '../model/changes';

export interface Outbox {
  /**
   * Queues changes. Resolves only once they are on disk (fsync), so a change counts as queued
   * only after this resolves. Assigns each change the next clientSeq. A change to an entity
   * that already has a queued, unacknowledged change replaces it (coalescing).
   */
  enqueue(changes: Array<{ body: ChangeBody; baseSeq: number | null }>): Promise<ClientChange[]>;
  /** Queued, unacknowledged changes in clientSeq order. */
  pending(): ClientChange[];
  /** Drops changes the relay acknowledged (durably, like enqueue). */
  acknowledge(clientSeqs: readonly number[]): Promise<void>;
  /** Number of queued, unacknowledged changes. */
  readonly size: number;
  close(): Promise<void>;
}
