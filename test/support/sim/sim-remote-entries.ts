/**
 * The relay's read model as the simulation's devices see it (RemoteEntries over the reference
 * relay's log): the latest version of each stream entry, unless a later truncate of its stream
 * removed it. What the real relay serves from its `messages` table, without the projector's lag.
 */
import { compareEntryKeys, type EntryKey, type ServerChange, type StreamName, type StreamPutBody, type StreamTruncateBody, type TaskSource } from '../../../core/model/changes';
import type { RemoteEntries, RemoteEntry } from '../../../core/ports/remote-entries';
import type { ReferenceRelay } from '../../../core/relay/reference-relay';

export class SimRemoteEntries implements RemoteEntries {
  /** Calls answered (the simulation reports how often devices needed the relay's copy). */
  calls = 0;

  constructor(
    private readonly relay: ReferenceRelay,
    private readonly userId: string,
  ) {}

  async fetch(source: TaskSource, taskId: string, stream: StreamName, keys: readonly EntryKey[]): Promise<Map<EntryKey, RemoteEntry>> {
    this.calls++;
    const found = new Map<EntryKey, RemoteEntry>();
    for (const key of keys) {
      const version = this.latestChange(source, taskId, stream, key);
      if (version) found.set(key, { entry: structuredClone((version.body as StreamPutBody).entry), seq: version.seq });
    }
    return found;
  }

  /** The entry's latest version the relay holds, or undefined (never put, or truncated since). */
  latest(source: TaskSource, taskId: string, stream: StreamName, key: EntryKey): StreamPutBody | undefined {
    return this.latestChange(source, taskId, stream, key)?.body as StreamPutBody | undefined;
  }

  private latestChange(source: TaskSource, taskId: string, stream: StreamName, key: EntryKey): ServerChange | undefined {
    const put = this.relay.latestChange(this.userId, `stream/${source}/${taskId}/${stream}/${key}`);
    if (!put || put.body.type !== 'stream.put') return undefined;
    const cut = this.relay.latestChange(this.userId, `stream/${source}/${taskId}/${stream}`);
    if (cut && cut.seq > put.seq) {
      const afterKey = (cut.body as StreamTruncateBody).afterKey;
      if (afterKey === null || compareEntryKeys(key, afterKey) > 0) return undefined;
    }
    return put;
  }
}
