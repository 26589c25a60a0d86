/**
 * The text of a `changes` fan-out message between relay processes (sync-hub.ts): the envelope's
 * small fields, then the changes' JSON last, as one JSON object:
 *
 *   {"t":"changes","from":"…","first":1,"last":2,"at":…,"changes":[…]}
 *
 * A relay that receives one hands the changes' JSON to its sockets as it came, without parsing
 * and re-serialising it (the changes are what another relay serialised from its own commit);
 * only the fields before it are parsed. Any other text is parsed whole, as before.
 */

import { lastMemberPrefix, withLastMember } from '../../core/model/json-last-member';

const CHANGES_START = '{"t":"changes",';
const CHANGES_KEY = lastMemberPrefix('changes');

/** The envelope `fields` (JSON-serialisable, without `changes`) with `changesJson` appended as its `changes`. */
export function changesEnvelopeText(fields: { t: 'changes' } & Record<string, unknown>, changesJson?: string): string {
  const head = JSON.stringify(fields);
  return changesJson === undefined ? head : withLastMember(head, 'changes', changesJson);
}

/**
 * Splits a `changes` envelope made by `changesEnvelopeText` (in `text` from `start` to its end:
 * a pub/sub message is read without copying its prefix off) into the JSON of its other fields
 * and its changes' JSON (undefined when it carries none), or returns undefined for any other
 * text (parse that whole). The first `,"changes":` is the key: the fields before it are strings
 * and numbers, in whose JSON a quote is always escaped.
 */
export function splitChangesEnvelope(text: string, start = 0): { fields: string; changesJson?: string } | undefined {
  if (!text.startsWith(CHANGES_START, start)) return undefined;
  const at = text.indexOf(CHANGES_KEY, start);
  if (at < 0) return { fields: text.slice(start) };
  if (!text.endsWith('}')) return undefined;
  return { fields: `${text.slice(start, at)}}`, changesJson: text.slice(at + CHANGES_KEY.length, -1) };
}
