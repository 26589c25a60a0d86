/**
 * The relay's stream file route (`GET /v1/tasks/:source/:taskId/streams/:stream`): each page is
 * a JSON array of entries, oldest first, the text of the assistant's stream file; its entry
 * count and the key to page on from travel in headers, so the body stays the file's text.
 * `joinStreamPages` makes one file of the pages without parsing them.
 */
import { SyncError } from '../errors';

export const STREAM_PAGE_HEADERS = {
  /** Entries in the page. */
  count: 'roo-sync-entries',
  /** Pass as `after` for the next page; absent on the last page. */
  nextAfter: 'roo-sync-next-after',
} as const;

const OPEN = 0x5b; // [
const CLOSE = 0x5d; // ]
const COMMA = 0x2c; // ,

/**
 * One JSON array of the elements of `pages` (each the UTF-8 text of a JSON array, exactly `[` to
 * `]` as the relay writes them), in order: the brackets between pages become commas, nothing
 * is parsed. RELAY_RESPONSE_INVALID when a page does not start with `[` and end with `]`.
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
