/**
 * The relay's stream file route (`GET /v1/tasks/:source/:taskId/streams/:stream`): each page is
 * a JSON array of entries, oldest first, the text of the assistant's stream file; the key to
 * page on from travels in a header, so the body stays the file's text. `joinStreamPages` makes
 * one file of the pages without serialising them again; `parseStreamJson` checks a page (or the
 * joined file) is a JSON array, so nothing else is ever written into an assistant's file.
 */
import { SyncError } from '../errors';

/** Header of a page that is not the last: pass its value as `after` for the next page. */
export const STREAM_NEXT_AFTER_HEADER = 'roo-sync-next-after';

const OPEN = 0x5b; // [
const CLOSE = 0x5d; // ]
const COMMA = 0x2c; // ,

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/**
 * The entries of `json`, the UTF-8 text of a JSON array; RELAY_RESPONSE_INVALID when it is not
 * UTF-8, not JSON or not an array.
 */
export function parseStreamJson(json: Uint8Array): unknown[] {
  let entries: unknown;
  try {
    entries = JSON.parse(utf8Strict.decode(json));
  } catch (error) {
    throw new SyncError('RELAY_RESPONSE_INVALID', 'a stream from the relay is not JSON', { bytes: json.length, reason: (error as Error).message });
  }
  if (!Array.isArray(entries)) throw new SyncError('RELAY_RESPONSE_INVALID', 'a stream from the relay is not a JSON array', { bytes: json.length });
  return entries;
}

/**
 * One JSON array of the elements of `pages` (each the UTF-8 text of a JSON array, exactly `[` to
 * `]` as the relay writes them and parseStreamJson checked), in order: the brackets between pages
 * become commas. RELAY_RESPONSE_INVALID when a page does not start with `[` and end with `]`.
 */
export function joinStreamPages(pages: readonly Uint8Array[]): Uint8Array {
  const inners: Uint8Array[] = [];
  for (const page of pages) {
    if (page.length < 2 || page[0] !== OPEN || page[page.length - 1] !== CLOSE) {
      throw new SyncError('RELAY_RESPONSE_INVALID', 'a stream page from the relay is not a JSON array', { bytes: page.length });
    }
    if (page.length > 2) inners.push(page.subarray(1, page.length - 1));
  }
  if (pages.length === 1) return pages[0]!;
  const length = 2 + inners.reduce((sum, inner) => sum + inner.length, 0) + Math.max(0, inners.length - 1);
  const joined = new Uint8Array(length);
  joined[0] = OPEN;
  let at = 1;
  inners.forEach((inner, i) => {
    if (i > 0) joined[at++] = COMMA;
    joined.set(inner, at);
    at += inner.length;
  });
  joined[at] = CLOSE;
  return joined;
}
