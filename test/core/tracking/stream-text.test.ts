import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import type { StreamName } from '../../../core/model/changes';
import { asTaskId } from '../../../core/ids';
import { diffKeyedStream, streamChangeBodies } from '../../../core/tracking/stream-diff';
import { keyEntries } from '../../../core/tracking/stream-keys';
import { parseStreamText, type ParsedStream } from '../../../core/tracking/stream-text';
import { createRng } from '../../support/rng';
import { generateTaskHistory, generateUiMessage } from '../../support/task-fixtures';

/** The parse must equal a plain JSON.parse plus keyEntries. */
function assertSameAsCold(stream: StreamName, parsed: ParsedStream, text: string): void {
  const entries = JSON.parse(text) as unknown[];
  assert.deepEqual(parsed.entries, entries);
  assert.deepEqual(
    parsed.keyed.map((e) => [e.key, e.hash]),
    keyEntries(stream, entries).map((e) => [e.key, e.hash]),
  );
}

describe('parseStreamText', () => {
  describe('a first read', () => {
    it('parses compact and pretty-printed arrays alike', () => {
      for (const text of ['[]', ' [ ] \n', '\ufeff[{"ts":1}]', '[\n  {"ts": 1, "a": [1, {"b": "]"}]},\n  {"ts": 2, "s": "q\\"uote\\\\"}\n]\n']) {
        const parsed = parseStreamText('ui', text);
        assertSameAsCold('ui', parsed, text.replace('\ufeff', ''));
        assert.equal(parsed.reused, 0);
      }
    });

    it('parses arrays of primitives (api positions)', () => {
      const text = '[1, "two", true, null, -3.5e2, [4]]';
      assertSameAsCold('api', parseStreamText('api', text), text);
    });

    it('refuses text that is not one JSON array with STORE_CORRUPT_JSON', () => {
      for (const bad of ['', '{}', '[{"ts":1}', '[{"ts":1},]', '[{"ts":1} {"ts":2}]', '[{"ts":1}] x', '[{"ts":1,}]', '["abc]', '[,]']) {
        assert.throws(() => parseStreamText('ui', bad), (err) => isSyncError(err, 'STORE_CORRUPT_JSON'), JSON.stringify(bad));
      }
    });
  });

  describe('a read after a previous one', () => {
    const task = generateTaskHistory({ seed: 3, messages: 300 });
    const text = JSON.stringify(task.ui);

    it('reuses every entry when one message is appended', () => {
      const first = parseStreamText('ui', text);
      const extra = generateUiMessage(createRng(1), (task.ui.at(-1) as { ts: number }).ts + 500);
      const next = JSON.stringify([...task.ui, extra]);
      const second = parseStreamText('ui', next, first);
      assert.equal(second.reused, task.ui.length);
      assert.equal(second.keyed.length, task.ui.length + 1);
      assertSameAsCold('ui', second, next);
    });

    it('turns one appended message into one put at most twice its size (with the previous read)', () => {
      const big = generateTaskHistory({ seed: 8, messages: 600 });
      const first = parseStreamText('ui', JSON.stringify(big.ui));
      const state = first.keyed.map((e) => ({ key: e.key, hash: e.hash, own: true }));
      const extra = { ts: (big.ui.at(-1) as { ts: number }).ts + 900, type: 'say', say: 'text', text: 'The build passes now. '.repeat(10), partial: false };
      const second = parseStreamText('ui', JSON.stringify([...big.ui, extra]), first);
      const bodies = streamChangeBodies('roo-code', asTaskId(big.taskId), 'ui', diffKeyedStream(second.keyed, state));
      assert.equal(bodies.length, 1);
      assert.deepEqual(bodies[0]!.type === 'stream.put' && bodies[0]!.entry, extra);
      assert.ok(JSON.stringify(bodies).length <= 2 * JSON.stringify(extra).length);
    });

    it('parses again only from a rewritten last message', () => {
      const partial = [...task.ui, { ts: 9e12, type: 'say', say: 'text', text: 'Hel', partial: true }];
      const done = [...task.ui, { ts: 9e12, type: 'say', say: 'text', text: 'Hello', partial: false }];
      const first = parseStreamText('ui', JSON.stringify(partial));
      const second = parseStreamText('ui', JSON.stringify(done), first);
      assert.equal(second.reused, task.ui.length);
      assertSameAsCold('ui', second, JSON.stringify(done));
    });

    it('keeps occurrence numbers across the reused prefix', () => {
      const first = parseStreamText('ui', '[{"ts":5,"a":1},{"ts":5,"a":2}]');
      const second = parseStreamText('ui', '[{"ts":5,"a":1},{"ts":5,"a":2},{"ts":5,"a":3}]', first);
      assert.equal(second.reused, 2);
      assert.deepEqual(second.keyed.map((e) => e.key), ['5:0', '5:1', '5:2']);
    });

    it('does not reuse a number that grew in place', () => {
      const first = parseStreamText('api', '[1,12]');
      const second = parseStreamText('api', '[1,123]', first);
      assert.equal(second.reused, 1);
      assert.deepEqual(second.entries, [1, 123]);
    });

    it('ignores a previous read of the other stream', () => {
      const first = parseStreamText('api', '[{"ts":1}]');
      assert.equal(parseStreamText('ui', '[{"ts":1},{"ts":2}]', first).reused, 0);
    });

    it('matches a cold parse after random edits anywhere in the text', () => {
      const rng = createRng(99);
      const small = generateTaskHistory({ seed: 4, messages: 40 }).ui as unknown[];
      let messages = small;
      let previous = parseStreamText('ui', JSON.stringify(messages));
      for (let round = 0; round < 200; round++) {
        messages = [...messages];
        const at = rng.int(0, messages.length - 1);
        const op = rng.int(0, 3);
        if (op === 0) messages.push({ ts: 1e13 + round, type: 'say', say: 'text', text: `r${round}` });
        else if (op === 1) messages[at] = { ...(messages[at] as object), text: `edited ${round}` };
        else if (op === 2 && messages.length > 1) messages.splice(at, 1);
        else messages = messages.slice(0, at + 1);
        const text = rng.chance(0.2) ? JSON.stringify(messages, null, 1) : JSON.stringify(messages);
        const next = parseStreamText('ui', text, previous);
        assertSameAsCold('ui', next, text);
        previous = next;
      }
    });
  });
});
