/**
 * Port: stream entries as the relay holds them (its read model keeps every message of every
 * task). The device asks it for synced entries its durable entry cache lacks, so the rule "a
 * stale rewrite is not a deletion" can still restore them. The HTTP adapter is
 * core/client/relay-entries.ts; the simulation reads the reference relay's log.
 */
import type { EntryKey, StreamName, TaskSource } from '../model/changes';

/** The version of an entry the relay holds now (its latest), with the seq that wrote it. */
export interface RemoteEntry {
  entry: unknown;
  seq: number;
}

export interface RemoteEntries {
  /**
   * The entries of one task stream that the relay holds under `keys` (keys it lacks are
   * absent from the result). The caller checks each entry against the hash it expects.
   */
  fetch(source: TaskSource, taskId: string, stream: StreamName, keys: readonly EntryKey[]): Promise<Map<EntryKey, RemoteEntry>>;
}
