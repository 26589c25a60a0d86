/**
 * replaceEscapedNul (core/model/escaped-nul.ts) in both readers of store files, parseStoreJson and
 * the incremental parseStreamText: a NUL character inside a
 * store file's string is read as U+FFFD (PostgreSQL cannot store NUL: a push carrying one failed
 * on the relay for ever); the text `\u0000` written with an escaped backslash stays as it is.
 */
import assert from 'node:assert/strict';
import { replaceEscapedNul } from '../../../core/model/escaped-nul';
import { parseStoreJson } from '../../../core/node/stores/json-file';
import { parseStreamText } from '../../../core/tracking/stream-text';

const parsed = (value: unknown): unknown => parseStoreJson('/x/ui_messages.json', Buffer.from(JSON.stringify(value)));

describe('NUL characters in store files', () => {
  it('reads a NUL in any string, key or nested value, as U+FFFD', () => {
    assert.deepEqual(parsed([{ say: 'command_output', text: 'a\u0000b\u0000\u0000c' }]), [{ say: 'command_output', text: 'a\uFFFDb\uFFFD\uFFFDc' }]);
    assert.deepEqual(parsed({ ['k\u0000']: ['\u0000'] }), { ['k\uFFFD']: ['\uFFFD'] });
  });

  it('keeps the text "\\u0000" (a backslash, then u0000) and handles an escaped backslash before a NUL', () => {
    assert.deepEqual(parsed(['\\u0000', '\\\\u0000']), ['\\u0000', '\\\\u0000']);
    assert.deepEqual(parsed(['\\\u0000', '\\\\\u0000']), ['\\\uFFFD', '\\\\\uFFFD']);
  });

  it('parseStreamText reads the same U+FFFD, with entry offsets into the file text unchanged', () => {
    const text = JSON.stringify([{ ts: 1, type: 'say', say: 'text', text: 'a\u0000b' }, { ts: 2, type: 'say', say: 'text', text: 'c' }]);
    const stream = parseStreamText('ui', text);
    assert.deepEqual(stream.entries.map((e) => (e as { text: string }).text), ['a\uFFFDb', 'c']);
    assert.equal(text.slice(stream.starts[1]!, stream.ends[1]!), JSON.stringify({ ts: 2, type: 'say', say: 'text', text: 'c' }));
    const appended = parseStreamText('ui', `${text.slice(0, -1)},${JSON.stringify({ ts: 3, type: 'say', say: 'text', text: '\u0000' })}]`, stream);
    assert.deepEqual([appended.reused, (appended.entries[2] as { text: string }).text], [2, '\uFFFD']);
  });

  it('returns a text without NUL as the very same string', () => {
    const text = JSON.stringify([{ text: 'plain \\ text \u00e9' }]);
    assert.equal(replaceEscapedNul(text), text);
  });
});
