/**
 * The relay's read model over HTTP, for whatever needs a user's tasks without syncing a device
 * (backfill, migrate --verify, the web page): `GET /v1/tasks` (the task list, newest first,
 * paged), `GET /v1/tasks/:source/:taskId` (one task's folded HistoryItem) and
 * `GET /v1/tasks/:source/:taskId/messages` (one stream, newest first, paged),
 * `GET /v1/tasks/:source/:taskId/streams/:stream` (one stream as its file's JSON text) and
 * `GET /v1/read-model` (how far the read model has followed the log). Every page is
 * fetched with a fresh access token from `accessToken()` (AuthSession renews it). fetch-based:
 * runs in Node, the extension host and browsers. Errors are the relay's codes (TASK_NOT_FOUND,
 * AUTH_*, PROJECTIONS_DISABLED) or RelayHttp's (RELAY_UNREACHABLE, RELAY_RESPONSE_INVALID).
 */
import { isSyncError } from '../errors';
import type { StreamName } from '../model/changes';
import { STREAM_NEXT_AFTER_HEADER, joinStreamPages, parseStreamJson } from '../protocol/stream-page';
import { RelayHttp, type RelayHttpOptions } from './relay-http';

/** One task of the list: key, folded HistoryItem fields, latest change. */
export interface RelayTaskSummary {
  source: string;
  taskId: string;
  seq: number;
  ts: number;
  meta: Record<string, unknown>;
}

/** One stream entry as the read model holds it. */
export interface RelayMessage {
  /** The entry's stream key (`<ts>:<n>` for ui, the position for api). */
  key: string;
  /** sha256 of `JSON.stringify(entry)` (core/model/hash). */
  hash: string;
  seq: number;
  entry: unknown;
}

/** One stream as the assistant's file holds it. */
export interface StreamFile {
  /** UTF-8 text of a JSON array of the entries, oldest first, each as the relay stored it. */
  json: Uint8Array;
  /** Entries in `json`. */
  count: number;
}

/** How far the user's read model has followed their change log. */
export interface ReadModelPosition {
  logSeq: number;
  projectedSeq: number;
}

/** Largest page the relay serves. */
const PAGE = 1000;

export class TaskReadClient {
  private readonly http: RelayHttp;

  constructor(
    serverUrl: string,
    private readonly accessToken: () => Promise<string>,
    options: RelayHttpOptions = {},
  ) {
    this.http = new RelayHttp(serverUrl, options);
  }

  /** Every task of the user, page by page (newest first). */
  async *tasks(): AsyncGenerator<RelayTaskSummary> {
    let cursor: string | undefined;
    do {
      const query = `?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await this.http.json<{ tasks: RelayTaskSummary[]; nextCursor?: string }>('GET', `/v1/tasks${query}`, { accessToken: await this.accessToken() });
      for (const task of page.tasks) yield task;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /** One task's folded metadata (TASK_NOT_FOUND when the user has no such task). */
  async task(source: string, taskId: string): Promise<RelayTaskSummary> {
    return this.http.json<RelayTaskSummary>('GET', `/v1/tasks/${encodeURIComponent(source)}/${encodeURIComponent(taskId)}`, { accessToken: await this.accessToken() });
  }

  /** How far the read model has followed the change log (PROJECTIONS_DISABLED when it is off). */
  async readModel(): Promise<ReadModelPosition> {
    return this.http.json<ReadModelPosition>('GET', '/v1/read-model', { accessToken: await this.accessToken() });
  }

  /** Every entry of one stream, oldest first (the relay pages newest first; this reverses). */
  async messages(source: string, taskId: string, stream: StreamName): Promise<RelayMessage[]> {
    const pages: RelayMessage[][] = [];
    let before: string | undefined;
    do {
      const query = `?stream=${stream}&limit=${PAGE}${before ? `&before=${encodeURIComponent(before)}` : ''}`;
      const page = await this.http.json<{ messages: RelayMessage[]; nextBefore?: string }>(
        'GET',
        `/v1/tasks/${encodeURIComponent(source)}/${encodeURIComponent(taskId)}/messages${query}`,
        { accessToken: await this.accessToken() },
      );
      pages.push(page.messages);
      before = page.nextBefore;
    } while (before);
    return pages.flat().reverse();
  }

  /**
   * One stream as the text of its file (a JSON array, oldest first): the relay's pages joined as
   * they came, each checked to be a JSON array (parseStreamJson) but not serialised again. A
   * relay older than the stream route: the same text made from `messages`.
   */
  async streamFile(source: string, taskId: string, stream: StreamName): Promise<StreamFile> {
    const pages: Uint8Array[] = [];
    let count = 0;
    let after: string | null = null;
    do {
      const query: string = `?limit=${PAGE}${after !== null ? `&after=${encodeURIComponent(after)}` : ''}`;
      let response: Response;
      try {
        response = await this.http.request(`/v1/tasks/${encodeURIComponent(source)}/${encodeURIComponent(taskId)}/streams/${stream}${query}`, { accessToken: await this.accessToken() });
      } catch (error) {
        if (pages.length === 0 && isSyncError(error, 'ROUTE_NOT_FOUND')) return this.streamFileFromMessages(source, taskId, stream);
        throw error;
      }
      const page = new Uint8Array(await response.arrayBuffer());
      count += parseStreamJson(page).length;
      pages.push(page);
      after = response.headers.get(STREAM_NEXT_AFTER_HEADER);
    } while (after !== null);
    return { json: joinStreamPages(pages), count };
  }

  private async streamFileFromMessages(source: string, taskId: string, stream: StreamName): Promise<StreamFile> {
    const entries = (await this.messages(source, taskId, stream)).map((m) => m.entry);
    return { json: new TextEncoder().encode(JSON.stringify(entries)), count: entries.length };
  }
}
