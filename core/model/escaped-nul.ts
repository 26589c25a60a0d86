/**
 * NUL characters in the assistants' JSON files. PostgreSQL's text and json functions cannot hold
 * U+0000: a push carrying one failed on the relay every time, and the device's queue stopped
 * behind it. So every reader of a store file (parseStoreJson, parseStreamText) reads a NUL in a
 * string as U+FFFD, the replacement character: every device reads the same text the same way,
 * so an entry's hash agrees everywhere, and the file keeps its NUL until the device next rewrites
 * it. The replacement has the escape's length, so offsets in the text stay valid.
 */

/** `\u0000` after an even run of backslashes (so not the text `\\u0000`). */
const ESCAPED_NUL = /(?<!\\)((?:\\\\)*)\\u0000/g;

/** `text` (JSON) with every escaped NUL inside its strings turned into `\ufffd`; the same string when it has none. */
export function replaceEscapedNul(text: string): string {
  return text.includes('\\u0000') ? text.replace(ESCAPED_NUL, '$1\\ufffd') : text;
}
