/**
 * Each queued change serialised once. A change a device detects is written to its outbox
 * journal, then sent to the relay in a push frame; serialising the journal record and the push
 * message whole made the JSON text and UTF-8 bytes of every entry two or three times over.
 * Here a change's UTF-8 JSON is made when the journal writes it and kept until the push that
 * sends it takes it, or the outbox lets the change go (changes are never modified). Kept bytes
 * are capped (RETAINED_BYTES_LIMIT, oldest dropped first): a device that queues for hours
 * offline does not hold its backlog twice, and a change whose bytes were dropped is
 * serialised again when it is sent.
 *
 * A stream.put entry parsed from a store file also starts from the text its hash was computed
 * over (`noteEntryJson`, called by core/tracking/stream-text.ts), so the entry is not
 * stringified again either. Member order inside the text differs from `JSON.stringify` of
 * the same object (`changes`, `body` and `entry` come last); it carries no meaning.
 */
import type { ChangeBody, ClientChange } from './changes';
import { withLastMember } from './json-last-member';

const utf8 = new TextEncoder();

/** Entries' JSON texts, noted where they were hashed and taken when first serialised. */
const entryJson = new WeakMap<object, string>();

/** Most bytes of serialised changes kept between the journal write and the push. */
export const RETAINED_BYTES_LIMIT = 64 * 1024 * 1024;

/** Serialised changes kept for their push, oldest first. */
const retained = new Map<ClientChange, Uint8Array>();
let retainedBytes = 0;

/**
 * Notes that `json` is `JSON.stringify(entry)` (the text an entry's hash covers), for the first
 * change that carries `entry` to use. The caller must never modify `entry` afterwards.
 */
export function noteEntryJson(entry: unknown, json: string): void {
  if (typeof entry === 'object' && entry !== null) entryJson.set(entry, json);
}

/** Drops `entry`'s noted text, if any (a later parse took the entry over: the text noted belongs to an older read of the file). */
export function forgetEntryJson(entry: unknown): void {
  if (typeof entry === 'object' && entry !== null) entryJson.delete(entry);
}

/** `JSON.stringify(entry)`: the noted text if there is one (then forgotten: its change keeps the bytes), else made now. */
function takeEntryJson(entry: unknown): string {
  if (typeof entry === 'object' && entry !== null) {
    const json = entryJson.get(entry);
    if (json !== undefined) {
      entryJson.delete(entry);
      return json;
    }
  }
  return JSON.stringify(entry);
}

/** A body's JSON text; a stream.put's entry comes last, from its noted text when there is one. */
function bodyJson(body: ChangeBody): string {
  if (body.type !== 'stream.put' || body.entry === undefined) return JSON.stringify(body);
  const { entry, ...head } = body;
  return withLastMember(JSON.stringify(head), 'entry', takeEntryJson(entry));
}

/**
 * `change` as UTF-8 JSON. `keep` (the journal) keeps the bytes for the push; `take` (the push)
 * uses kept bytes and forgets them. Do not modify the result.
 */
export function changeJsonBytes(change: ClientChange, use: 'keep' | 'take' = 'keep'): Uint8Array {
  let bytes = retained.get(change);
  if (bytes !== undefined) {
    if (use === 'take') forget(change, bytes);
    return bytes;
  }
  const { body, ...head } = change;
  bytes = utf8.encode(withLastMember(JSON.stringify(head), 'body', bodyJson(body)));
  if (use === 'keep') {
    retained.set(change, bytes);
    retainedBytes += bytes.length;
    for (const [oldest, kept] of retained) {
      if (retainedBytes <= RETAINED_BYTES_LIMIT) break;
      forget(oldest, kept);
    }
  }
  return bytes;
}

/** Drops the bytes kept for `change`, if any: the outbox calls this when it lets a change go unsent (replaced, renumbered). */
export function forgetChangeJson(change: ClientChange): void {
  const bytes = retained.get(change);
  if (bytes !== undefined) forget(change, bytes);
}

function forget(change: ClientChange, bytes: Uint8Array): void {
  retained.delete(change);
  retainedBytes -= bytes.length;
}

/**
 * `value` as UTF-8 JSON with its `changes` last, each from `changeJsonBytes` (`use` as there):
 * the same value `JSON.stringify(value)` encodes. For an outbox enqueue record or a push message.
 */
export function jsonBytesWithChanges(value: { readonly changes: readonly ClientChange[] }, use: 'keep' | 'take' = 'keep'): Uint8Array {
  const { changes, ...rest } = value;
  const restJson = JSON.stringify(rest);
  const open = utf8.encode(`${restJson.length > 2 ? `${restJson.slice(0, -1)},` : '{'}"changes":[`);
  const parts = changes.map((change) => changeJsonBytes(change, use));
  const size = open.length + parts.reduce((n, p) => n + p.length, 0) + Math.max(0, parts.length - 1) + 2;
  const out = new Uint8Array(size);
  out.set(open, 0);
  let at = open.length;
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) out[at++] = 0x2c; // ,
    out.set(parts[i]!, at);
    at += parts[i]!.length;
  }
  out[at++] = 0x5d; // ]
  out[at++] = 0x7d; // }
  return out;
}
