/**
 * RemoteEntries over the relay's read model: `GET /v1/tasks/:source/:taskId/messages`
 * (newest first, paged with `before`). The wanted keys are found by paging backwards from just
 * after the highest one until the lowest one is passed, so a whole task costs a page per 1,000
 * entries and one entry a single request. The read model follows pushes asynchronously: an
 * entry pushed a moment ago may not be there yet (it is then missing, and asked for again at
 * the next detection). Errors keep their codes (TASK_NOT_FOUND answers "none of them").
 */
import { isSyncError } from '../errors';
import { compareEntryKeys, type EntryKey, type StreamName, type TaskSource } from '../model/changes';
import type { RemoteEntries, RemoteEntry } from '../ports/remote-entries';
import { RelayHttp, type RelayHttpOptions } from './relay-http';

interface MessagePage {
  messages: Array<{ key: string; hash: string; seq: number; entry: unknown }>;
  nextBefore?: string;
}

export class RelayEntries implements RemoteEntries {
  private readonly http: RelayHttp;

  constructor(
    serverUrl: string,
    /** The access token (renewed by the caller's session). */
    private readonly getToken: () => Promise<string>,
    options: RelayHttpOptions = {},
  ) {
    this.http = new RelayHttp(serverUrl, options);
  }

  async fetch(source: TaskSource, taskId: string, stream: StreamName, keys: readonly EntryKey[]): Promise<Map<EntryKey, RemoteEntry>> {
    const found = new Map<EntryKey, RemoteEntry>();
    if (keys.length === 0) return found;
    const wanted = new Set(keys);
    const sorted = [...keys].sort(compareEntryKeys);
    const lowest = sorted[0]!;
    let before: string | undefined = keyAfter(sorted[sorted.length - 1]!);
    const limit = Math.min(1000, Math.max(1, keys.length));
    const path = `/v1/tasks/${encodeURIComponent(source)}/${encodeURIComponent(taskId)}/messages`;
    while (before !== undefined && found.size < wanted.size) {
      let page: MessagePage;
      try {
        const query = new URLSearchParams({ stream, limit: String(limit), before });
        page = await this.http.json<MessagePage>('GET', `${path}?${query}`, { accessToken: await this.getToken() });
      } catch (err) {
        if (isSyncError(err, 'TASK_NOT_FOUND')) return found;
        throw err;
      }
      for (const message of page.messages) if (wanted.has(message.key)) found.set(message.key, { entry: message.entry, seq: message.seq });
      const last = page.messages[page.messages.length - 1];
      before = last && compareEntryKeys(last.key, lowest) > 0 ? page.nextBefore : undefined;
    }
    return found;
  }
}

/** The smallest key ordered after `key` (`<major>:<minor + 1>`), for an inclusive upper bound. */
function keyAfter(key: EntryKey): string {
  const [major, minor = '0'] = key.split(':');
  return `${major}:${Number(minor) + 1}`;
}
