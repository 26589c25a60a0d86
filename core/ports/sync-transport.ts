/**
 * Port: how a device's sync engine reaches the relay. RooCloudClient implements it over a
 * WebSocket; tests may link a device straight to the in-memory reference relay.
 */
import type { ClientChange, ServerChange } from '../model/changes';
import type { AcceptedChange, ChangeConflict } from '../protocol/messages';

export interface PushOutcome {
  accepted: AcceptedChange[];
  conflicts: ChangeConflict[];
}

export interface PullPage {
  changes: ServerChange[];
  cursor: number;
  hasMore: boolean;
}

export interface SyncTransport {
  push(changes: ClientChange[]): Promise<PushOutcome>;
  pull(cursor: number, limit: number): Promise<PullPage>;
  /** Live changes from other devices, after the relay committed them. Returns its remover. */
  onLiveChanges(listener: (changes: ServerChange[]) => void): () => void;
}
