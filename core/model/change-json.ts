/**
 * Queued changes serialised once. A migration reads an entry and hashes its JSON text, the
 * outbox journal writes the change, and a push frame sends it; serialising the journal record
 * and the push message whole made the JSON text of every entry three times and its UTF-8 twice.
 * - A read for upload notes each entry's hashed text (`noteEntryJson`, called by
 *   core/tracking/stream-text.ts); the first serialisation of a change carrying the entry takes
 *   the note instead of stringifying the entry again.
 * - The journal write keeps the change's UTF-8 bytes (`'keep'`) and the push takes them
 *   (`'take'`). They are held weakly (they go with the change object, however the outbox lets
 *   it go) and at most RETAINED_BYTES_LIMIT in all: past that a change is not kept and its
 *   push serialises it again, so an outbox filling up offline is not held twice.
 * A journal record or a push message is its envelope's bytes around its changes' bytes. Member
 * order differs from `JSON.stringify` of the same object (`changes`, `body` and `entry` come
 * last); it carries no meaning. Changes and noted entries are never modified.
 */
import { concatBytes } from '../bytes';
import type { ChangeBody, ClientChange } from './changes';
import { withLastMember } from './json-last-member';

const utf8 = new TextEncoder();
const COMMA = utf8.encode(',');
/** The end of `changes` and of the object. */
const CLOSE_CHANGES = utf8.encode(']}');

/** Entries' JSON texts, noted where they were hashed and taken when first serialised. */
const entryJson = new WeakMap<object, string>();

/** Most bytes of serialised changes kept between the journal write and the push. */
export const RETAINED_BYTES_LIMIT = 64 * 1024 * 1024;

/** Bytes kept for changes' pushes; `retainedBytes` counts them, less those of changes collected since. */
const retained = new WeakMap<ClientChange, Uint8Array>();
let retainedBytes = 0;
const collected = new FinalizationRegistry<number>((size) => {
  retainedBytes -= size;
});

/** Notes that `json` is `JSON.stringify(entry)` (the text its hash covers). `entry` must never be modified afterwards. */
export function noteEntryJson(entry: unknown, json: string): void {
  if (typeof entry === 'object' && entry !== null) entryJson.set(entry, json);
}

/** Whether `entry` has a noted text (for tests and diagnostics). */
export function hasEntryJson(entry: unknown): boolean {
  return typeof entry === 'object' && entry !== null && entryJson.has(entry);
}

/** Bytes of serialised changes kept for their pushes now (for tests and diagnostics). */
export function retainedJsonBytes(): number {
  return retainedBytes;
}

/**
 * `change` as UTF-8 JSON. `keep` (the journal) keeps the bytes for the push while under
 * RETAINED_BYTES_LIMIT; `take` (the push) uses kept bytes and lets them go. Do not modify the result.
 */
export function changeJsonBytes(change: ClientChange, use: 'keep' | 'take' = 'keep'): Uint8Array {
  const kept = retained.get(change);
  if (kept !== undefined) {
    if (use === 'take') {
      retained.delete(change);
      collected.unregister(change);
      retainedBytes -= kept.length;
    }
    return kept;
  }
  const bytes = utf8.encode(changeJson(change));
  if (use === 'keep' && retainedBytes + bytes.length <= RETAINED_BYTES_LIMIT) {
    retained.set(change, bytes);
    collected.register(change, bytes.length, change);
    retainedBytes += bytes.length;
  }
  return bytes;
}

/**
 * `value` as UTF-8 JSON: what `JSON.stringify(value)` writes, with its `changes` last, each
 * from `changeJsonBytes` (`use` as there). For an outbox enqueue record or a push message.
 * Changes are encoded one by one and copied together: one string of a whole 4 MB record would
 * be made and dropped in the large-object heap (three times the page faults, measured).
 */
export function jsonBytesWithChanges(value: { readonly changes: readonly ClientChange[] }, use: 'keep' | 'take' = 'keep'): Uint8Array {
  if (hasToJson(value)) return utf8.encode(JSON.stringify(value));
  const { changes, ...rest } = value;
  // The envelope up to the first change: `{…,"changes":[` (withLastMember's text less its closing brace).
  const chunks: Uint8Array[] = [utf8.encode(withLastMember(JSON.stringify(rest), 'changes', '[').slice(0, -1))];
  changes.forEach((change, i) => {
    if (i > 0) chunks.push(COMMA);
    chunks.push(changeJsonBytes(change, use));
  });
  chunks.push(CLOSE_CHANGES);
  return concatBytes(chunks);
}

/** One change's JSON text, its body last. */
function changeJson(change: ClientChange): string {
  if (hasToJson(change) || hasToJson(change.body)) return JSON.stringify(change);
  const { body, ...head } = change;
  return withLastMember(JSON.stringify(head), 'body', bodyJson(body));
}

/** A body's JSON text; a stream.put's entry last, from its noted text when it has one. */
function bodyJson(body: ChangeBody): string {
  if (body.type !== 'stream.put') return JSON.stringify(body);
  const { entry, ...head } = body;
  const text: string | undefined = takeEntryJson(entry);
  // An entry JSON cannot write (undefined, a function) is left out, as JSON.stringify(body) does.
  return text === undefined ? JSON.stringify(body) : withLastMember(JSON.stringify(head), 'entry', text);
}

/** `JSON.stringify(entry)`: its noted text, then forgotten (the change's bytes are kept instead), or made now. */
function takeEntryJson(entry: unknown): string | undefined {
  if (typeof entry !== 'object' || entry === null) return JSON.stringify(entry);
  const json = entryJson.get(entry);
  if (json === undefined) return JSON.stringify(entry);
  entryJson.delete(entry);
  return json;
}

/** Whether JSON.stringify would call `value.toJSON()` instead of writing its members (then it is left to do so). */
function hasToJson(value: unknown): boolean {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function';
}
