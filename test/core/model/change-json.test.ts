import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asTaskId } from '../../../core/ids';
import { changeJsonBytes, hasEntryJson, jsonBytesWithChanges, noteEntryJson, RETAINED_BYTES_LIMIT, retainedJsonBytes } from '../../../core/model/change-json';
import type { ClientChange, HlcStamp } from '../../../core/model/changes';
import { hashJson } from '../../../core/model/hash';
import { withLastMember } from '../../../core/model/json-last-member';
import { FsTaskStore } from '../../../core/node/stores/fs-task-store';
import { decodeJournal, encodeRecord } from '../../../core/outbox/journal-record';
import { parseStreamText } from '../../../core/tracking/stream-text';

function put(clientSeq: number, entry: unknown): ClientChange {
  return {
    clientSeq,
    baseSeq: null,
    body: { type: 'stream.put', source: 'roo-code', taskId: asTaskId('task-1'), stream: 'ui', key: `k${clientSeq}`, hash: hashJson(entry), entry },
  };
}

const utf8 = new TextDecoder();
/** jsonBytesWithChanges as text. */
const json = (value: { readonly changes: readonly ClientChange[] }): string => utf8.decode(jsonBytesWithChanges(value));
/** What JSON.stringify makes of `value`, as a value. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('change-json', () => {
  describe('jsonBytesWithChanges', () => {
    it('writes the value JSON.stringify writes, for every kind of body, a push and an empty one', () => {
      const changes: ClientChange[] = [
        put(1, { ts: 1, type: 'say', text: 'héllo ✓ "quoted" \\ slash \ud800 lone', images: ['data:…'] }),
        put(2, [1, 'two', null, -0]),
        { clientSeq: 3, baseSeq: 7, body: { type: 'stream.truncate', source: 'roo-code', taskId: asTaskId('task-1'), stream: 'api', afterKey: null } },
        { clientSeq: 4, baseSeq: null, body: { type: 'task.delete', source: 'cline', taskId: asTaskId('task-2'), clock: '001700000000000-000000-dev-a' as HlcStamp } },
      ];
      for (const value of [{ type: 'push', id: 'r1', changes }, { type: 'push', id: 'r2', changes: [] }, { changes: changes.slice(0, 1) }]) {
        assert.deepEqual(JSON.parse(json(value)), plain(value));
      }
    });

    it("writes a stream.put's entry from its noted text, once", () => {
      const entry = { ts: 5, text: 'x' };
      // A noted text is taken as given (here with spaces JSON.stringify would not write), so
      // seeing it in the output proves it was used instead of a new serialisation.
      noteEntryJson(entry, '{ "ts": 5, "text": "x" }');
      const text = json({ changes: [put(1, entry), put(2, entry)] });
      assert.equal(text.split(',"entry":{ "ts": 5, "text": "x" }}}').length, 2, text);
      assert.ok(text.endsWith(',"entry":{"ts":5,"text":"x"}}}]}'), 'the second change stringifies the entry: the note was taken');
    });

    it('leaves out what JSON.stringify leaves out, and lets toJSON speak, instead of writing invalid JSON', () => {
      const fn = { ...put(1, {}), body: { ...put(1, {}).body, entry: () => 1 } } as ClientChange;
      const withToJson = { ...put(2, { ts: 2 }), toJSON: () => ({ clientSeq: 2, baseSeq: null, body: { type: 'task.delete' } }) };
      const value = { type: 'push', id: 'r3', changes: [fn, withToJson as ClientChange] };
      assert.deepEqual(JSON.parse(json(value)), plain(value));
    });

    it('frames an outbox enqueue record that the journal reads back', () => {
      const record = { kind: 'enqueue' as const, changes: [put(1, { ts: 1, say: 'a' }), put(2, { ts: 2, say: 'b' })], drop: [4] };
      const decoded = decodeJournal(encodeRecord(record));
      assert.equal(decoded.defect, null);
      assert.deepEqual(decoded.records, [plain(record)]);
    });
  });

  describe('changeJsonBytes', () => {
    it('keeps the bytes the journal made until the push takes them', () => {
      const change = put(1, { ts: 1 });
      const journal = changeJsonBytes(change, 'keep');
      assert.equal(changeJsonBytes(change, 'keep'), journal, 'a second journal write (compaction) reuses them');
      assert.equal(changeJsonBytes(change, 'take'), journal, 'the push uses them');
      const resent = changeJsonBytes(change, 'take');
      assert.notEqual(resent, journal, 'a re-send after the push serialises again');
      assert.deepEqual(resent, journal);
    });

    it(`keeps at most ${RETAINED_BYTES_LIMIT / 2 ** 20} MB; past that the push serialises again`, () => {
      const big = (seq: number): ClientChange => put(seq, { ts: seq, text: 'x'.repeat(0.6 * RETAINED_BYTES_LIMIT) });
      const [first, second, third] = [big(1), big(2), big(3)];
      const before = retainedJsonBytes();
      const firstBytes = changeJsonBytes(first, 'keep');
      assert.equal(retainedJsonBytes(), before + firstBytes.length);
      const secondBytes = changeJsonBytes(second, 'keep');
      assert.equal(retainedJsonBytes(), before + firstBytes.length, 'the second would pass the limit: not kept');
      assert.notEqual(changeJsonBytes(second, 'take'), secondBytes);
      assert.equal(changeJsonBytes(first, 'take'), firstBytes);
      assert.equal(retainedJsonBytes(), before, 'taking gives the room back');
      const thirdBytes = changeJsonBytes(third, 'keep');
      assert.equal(changeJsonBytes(third, 'take'), thirdBytes);
    });
  });

  describe('withLastMember', () => {
    it('adds the member to an empty object too', () => {
      assert.equal(withLastMember('{}', 'changes', '[]'), '{"changes":[]}');
      assert.equal(withLastMember('{"a":1}', 'b', '2'), '{"a":1,"b":2}');
    });
  });

  describe('entries read for upload', () => {
    it("are noted with their hashed text, compact, pretty-printed or with escaped NULs; other reads note nothing", () => {
      for (const file of ['[{"ts":1,"text":"a"},{"ts":2,"text":"b\\u0000c"}]', '[\n  { "ts": 1, "text": "a" },\n  { "ts": 2, "text": "b\\u0000c" }\n]']) {
        const plainRead = parseStreamText('ui', file);
        assert.ok(plainRead.entries.every((entry) => !hasEntryJson(entry)));
        const upload = parseStreamText('ui', file, null, { noteJson: true });
        for (const { entry, hash } of upload.keyed) {
          assert.ok(hasEntryJson(entry));
          const sent = (JSON.parse(json({ changes: [put(1, entry)] })) as { changes: Array<{ body: { entry: unknown } }> }).changes[0]!.body.entry;
          assert.deepEqual(sent, entry);
          assert.equal(hashJson(sent), hash);
        }
      }
    });

    it('come from a FsTaskStore read with forUpload, which does not keep the parse for later reads', async () => {
      const base = await mkdtemp(join(tmpdir(), 'change-json-'));
      try {
        const dir = join(base, 'tasks', 'task-1');
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, 'ui_messages.json'), '[{"ts":1,"type":"say","say":"text","text":"a"}]');
        await writeFile(join(dir, 'api_conversation_history.json'), '[{"role":"user","content":"a"}]');
        const store = new FsTaskStore({ source: 'roo-code', basePath: base });
        const upload = await store.readTask(asTaskId('task-1'), { forUpload: true });
        assert.ok([...upload!.ui, ...upload!.api].every(hasEntryJson));
        const later = await store.readTask(asTaskId('task-1'));
        assert.ok([...later!.ui, ...later!.api].every((entry) => !hasEntryJson(entry)), 'a later read parses anew, without notes');
        assert.notEqual(later!.ui[0], upload!.ui[0]);
      } finally {
        await rm(base, { recursive: true, force: true });
      }
    });
  });
});
