/**
 * Building a JSON object's text with one member written last, from text already serialised:
 * `{"a":1}` plus `changes` and `[…]` gives `{"a":1,"changes":[…]}`. A reader that knows the
 * layout takes the last member out by position instead of parsing the whole text (the relay's
 * fan-out envelopes, server/sync/changes-envelope.ts; the stored body of a stream.put,
 * server/db/put-body.ts).
 */

/** The text between an object's other members and its last member's value: `,"<key>":`. */
export function lastMemberPrefix(key: string): string {
  return `,${JSON.stringify(key)}:`;
}

/** `objectJson` (the JSON text of an object without `key`) with `key` set to `valueJson`, as its last member. */
export function withLastMember(objectJson: string, key: string, valueJson: string): string {
  if (objectJson === '{}') return `{${JSON.stringify(key)}:${valueJson}}`;
  return `${objectJson.slice(0, -1)}${lastMemberPrefix(key)}${valueJson}}`;
}
