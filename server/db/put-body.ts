/**
 * How the change log stores a stream.put (migration 0011): its body is its head's JSON text
 * with the entry last, `<head without its closing brace>,"entry":<entry>}`, and the head (the
 * body without its entry) is stored beside it for the projector. The messages route then cuts
 * the entry out of the body by position instead of parsing it (parsing cost PostgreSQL as much
 * again as reading the body). Key order inside a body carries no meaning (an entry's hash
 * covers the entry alone), and the entry's own text is unchanged.
 */
import type { ChangeBody, StreamPutBody } from '../../core/model/changes';
import { lastMemberPrefix, withLastMember } from '../../core/model/json-last-member';

/** The text a change is stored as, and for a stream.put its head; any other body is stored as it serialises. */
export function storedBody(body: ChangeBody): { text: string; head?: Omit<StreamPutBody, 'entry'> } {
  if (body.type !== 'stream.put' || body.entry === undefined) return { text: JSON.stringify(body) };
  const { entry, ...head } = body;
  return { text: withLastMember(JSON.stringify(head), 'entry', JSON.stringify(entry)), head };
}

const ENTRY_PREFIX = lastMemberPrefix('entry');

/**
 * SQL for the entry of log row `row` (columns `body` and `head`) as JSON text: cut out by
 * position where the body starts with its head and the entry member, else (a row stored before
 * 0011 without a head, or rewritten since) parsed with `->`, which returns the text as sent.
 */
export function entryTextSql(row: string): string {
  return `CASE WHEN starts_with(${row}.body::text, left(${row}.head::text, -1) || '${ENTRY_PREFIX}')
  THEN substr(${row}.body::text, length(${row}.head::text) + ${ENTRY_PREFIX.length}, length(${row}.body::text) - length(${row}.head::text) - ${ENTRY_PREFIX.length})
  ELSE (${row}.body -> 'entry')::text END`;
}
