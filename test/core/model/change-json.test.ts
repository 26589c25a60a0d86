import assert from 'node:assert/strict';
import { asTaskId } from '../../../core/ids';
import { changeJsonBytes, forgetChangeJson, jsonBytesWithChanges, noteEntryJson, RETAINED_BYTES_LIMIT } from '../../../core/model/change-json';
import type { ClientChange, HlcStamp } from '../../../core/model/changes';
import { hashJson } from '../../../core/model/hash';
import { decodeJournal, encodeRecord } from '../../../core/outbox/journal-record';
import { parseStreamText } from '../../../core/tracking/stream-text';

const text = new TextDecoder();
const parsed = (bytes: Uint8Array): unknown => JSON.parse(text.decode(bytes));

function put(clientSeq: number, entry: unknown): ClientChange {
  return {
    clientSeq,
    baseSeq: null,
    body: { type: 'stream.put', source: 'roo-code', taskId: asTaskId('task-1'), stream: 'ui', key: `k${clientSeq}`, hash: hashJson(entry), entry },
  };
}

describe('change-json', () => {
  describe('changeJsonBytes', () => {
    it('encodes the same value JSON.stringify does, for every kind of body', () => {
      const changes: ClientChange[] = [
        put(1, { ts: 1, type: 'say', text: 'héllo ✓ "quoted" \\ slash', images: ['data:…'] }),
        { clientSeq: 2, baseSeq: 7, body: { type: 'stream.truncate', source: 'roo-code', taskId: asTaskId('task-1'), stream: 'api', afterKey: null } },
        { clientSeq: 3, baseSeq: null, body: { type: 'task.delete', source: 'cline', taskId: asTaskId('task-2'), clock: '001700000000000-000000-dev-a' as HlcStamp } },
      ];
      for (const change of changes) assert.deepEqual(parsed(changeJsonBytes(change)), JSON.parse(JSON.stringify(change)));
    });

    it('keeps the bytes the journal made until the push takes them', () => {
      const change = put(1, { ts: 1 });
      const journal = changeJsonBytes(change, 'keep');
      assert.equal(changeJsonBytes(change, 'keep'), journal, 'a second journal write (compaction) reuses them');
      assert.equal(changeJsonBytes(change, 'take'), journal, 'the push uses them');
      const resent = changeJsonBytes(change, 'take');
      assert.notEqual(resent, journal, 'a re-send after the push serialises again');
      assert.deepEqual(resent, journal);
    });

    it('forgets the bytes of a change the outbox lets go unsent', () => {
      const change = put(1, { ts: 1 });
      const journal = changeJsonBytes(change, 'keep');
      forgetChangeJson(change);
      assert.notEqual(changeJsonBytes(change, 'take'), journal);
    });

    it(`keeps at most ${RETAINED_BYTES_LIMIT / 2 ** 20} MB, dropping the oldest first`, () => {
      const big = (seq: number): ClientChange => put(seq, { ts: seq, text: 'x'.repeat(0.6 * RETAINED_BYTES_LIMIT) });
      const [older, newer] = [big(1), big(2)];
      const olderBytes = changeJsonBytes(older, 'keep');
      const newerBytes = changeJsonBytes(newer, 'keep');
      assert.notEqual(changeJsonBytes(older, 'take'), olderBytes, 'the older was dropped, so it is serialised again');
      assert.equal(changeJsonBytes(newer, 'take'), newerBytes, 'the newer is still kept');
    });

    it("uses an entry's noted text once, then serialises the entry again", () => {
      const entry = { ts: 5, text: 'x' };
      // A noted text is taken as given (here with spaces JSON.stringify would not write), so
      // seeing it in the output proves it was used instead of a new serialisation.
      noteEntryJson(entry, '{ "ts": 5, "text": "x" }');
      const first = text.decode(changeJsonBytes(put(1, entry)));
      const second = text.decode(changeJsonBytes(put(2, entry)));
      assert.ok(first.endsWith(',"entry":{ "ts": 5, "text": "x" }}}'), first);
      assert.ok(second.endsWith(',"entry":{"ts":5,"text":"x"}}}'), second);
    });
  });

  describe('jsonBytesWithChanges', () => {
    it('encodes a push message and an empty one as JSON.stringify does', () => {
      for (const message of [
        { type: 'push', id: 'r1', changes: [put(1, { ts: 1 }), put(2, [1, 'two', null])] },
        { type: 'push', id: 'r2', changes: [] },
        { changes: [put(3, { ts: 3 })] },
      ]) {
        assert.deepEqual(parsed(jsonBytesWithChanges(message)), JSON.parse(JSON.stringify(message)));
      }
    });

    it('frames an outbox enqueue record that the journal reads back', () => {
      const record = { kind: 'enqueue' as const, changes: [put(1, { ts: 1, say: 'a' }), put(2, { ts: 2, say: 'b' })], drop: [4] };
      const decoded = decodeJournal(encodeRecord(record));
      assert.equal(decoded.defect, null);
      assert.deepEqual(decoded.records, [JSON.parse(JSON.stringify(record))]);
    });
  });

  describe('entries parsed from a store file', () => {
    it('keep no note once a later read of the file takes them over (it would hold the old text)', () => {
      const first = parseStreamText('ui', '[{"ts":1,"text":"a"}]');
      const entry = first.entries[0]!;
      noteEntryJson(entry, '{ "ts": 1, "text": "a" }');
      const second = parseStreamText('ui', '[{"ts":1,"text":"a"},{"ts":2,"text":"b"}]', first);
      assert.equal(second.reused, 1);
      assert.equal(second.entries[0], entry);
      assert.ok(text.decode(changeJsonBytes(put(1, entry))).endsWith(',"entry":{"ts":1,"text":"a"}}}'));
    });

    it("carry their text to the change, equal to the entry's hashed form, pretty-printed or with escaped NULs", () => {
      for (const file of ['[{"ts":1,"text":"a"},{"ts":2,"text":"b\\u0000c"}]', '[\n  { "ts": 1, "text": "a" },\n  { "ts": 2, "text": "b\\u0000c" }\n]']) {
        const stream = parseStreamText('ui', file);
        for (const { entry, hash } of stream.keyed) {
          const change = put(1, entry);
          assert.equal(change.body.type === 'stream.put' && change.body.hash, hash);
          const body = (parsed(changeJsonBytes(change)) as { body: { entry: unknown } }).body;
          assert.deepEqual(body.entry, entry);
          assert.equal(hashJson(body.entry), hash);
        }
      }
    });
  });
});
