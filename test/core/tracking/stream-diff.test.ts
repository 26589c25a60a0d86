import assert from 'node:assert/strict';
import { asTaskId } from '../../../core/ids';
import { compareEntryKeys } from '../../../core/model/changes';
import { diffKeyedStream, diffStream, streamChangeBodies, syncedAfter, type TrackedEntry } from '../../../core/tracking/stream-diff';
import { keyEntries } from '../../../core/tracking/stream-keys';
import { createRng } from '../../support/rng';

/** ui messages with the given ts values. */
const ui = (...ts: number[]) => ts.map((t) => ({ ts: t, type: 'say', say: 'text', text: `message ${t}` }));

/** Synced state of ui messages; `foreign` lists the ts values that came from another device. */
function synced(messages: unknown[], foreign: number[] = []): TrackedEntry[] {
  return keyEntries('ui', messages).map((e) => ({ key: e.key, hash: e.hash, own: !foreign.includes(Number(e.key.split(':')[0])) }));
}

describe('diffStream', () => {
  describe('puts', () => {
    it('produces nothing for an unchanged stream', () => {
      assert.deepEqual(diffStream('ui', ui(1, 2, 3), synced(ui(1, 2, 3))), { puts: [], restore: [] });
    });

    it('puts one appended message', () => {
      const diff = diffStream('ui', ui(1, 2, 3, 4), synced(ui(1, 2, 3)));
      assert.deepEqual(diff.puts.map((p) => p.key), ['4:0']);
      assert.deepEqual(diff.restore, []);
      assert.equal(diff.truncateAfter, undefined);
    });

    it('puts a partial message rewritten under the same ts', () => {
      const before = [...ui(1, 2), { ts: 3, type: 'say', say: 'text', text: 'Hel', partial: true }];
      const after = [...ui(1, 2), { ts: 3, type: 'say', say: 'text', text: 'Hello', partial: false }];
      const diff = diffStream('ui', after, synced(before));
      assert.deepEqual(diff.puts.map((p) => [p.key, p.entry]), [['3:0', after[2]]]);
    });

    it('finds changes when the synced state is not in key order', () => {
      const state = synced(ui(1, 2, 3)).reverse();
      const diff = diffStream('ui', ui(1, 3, 4), state);
      assert.deepEqual(diff.puts.map((p) => p.key), ['4:0']);
      assert.deepEqual(diff.restore, ['2:0']);
    });
  });

  describe('empty is not a deletion', () => {
    it('restores every synced entry, own or not, when the stream is empty', () => {
      const diff = diffStream('ui', [], synced(ui(1, 2, 3), [2]));
      assert.deepEqual(diff, { puts: [], restore: ['1:0', '2:0', '3:0'] });
    });

    it('does nothing for an empty stream that was never synced', () => {
      assert.deepEqual(diffStream('api', [], []), { puts: [], restore: [] });
    });
  });

  describe('a stale rewrite is not a deletion', () => {
    it('restores foreign entries missing from the end while own new ones are put', () => {
      // The assistant held 1-3 in memory; 4 and 5 arrived from another device; it appended 6.
      const diff = diffStream('ui', ui(1, 2, 3, 6), synced(ui(1, 2, 3, 4, 5), [4, 5]));
      assert.deepEqual(diff.puts.map((p) => p.key), ['6:0']);
      assert.deepEqual(diff.restore, ['4:0', '5:0']);
      assert.equal(diff.truncateAfter, undefined);
    });

    it('restores foreign entries missing from the middle', () => {
      const diff = diffStream('ui', ui(1, 3), synced(ui(1, 2, 3), [2]));
      assert.deepEqual(diff.restore, ['2:0']);
      assert.equal(diff.truncateAfter, undefined);
    });

    it('restores own entries missing from the middle (not a "delete from here")', () => {
      const diff = diffStream('ui', ui(1, 3, 4), synced(ui(1, 2, 3, 4)));
      assert.deepEqual(diff.restore, ['2:0']);
      assert.equal(diff.truncateAfter, undefined);
    });

    it('restores everything when no synced entry is left to cut after', () => {
      const diff = diffStream('ui', ui(9), synced(ui(1, 2, 3)));
      assert.deepEqual(diff.puts.map((p) => p.key), ['9:0']);
      assert.deepEqual(diff.restore, ['1:0', '2:0', '3:0']);
      assert.equal(diff.truncateAfter, undefined);
    });
  });

  describe('delete from here', () => {
    it('truncates after the last kept entry when own entries vanish as a suffix', () => {
      const diff = diffStream('ui', ui(1, 2), synced(ui(1, 2, 3, 4)));
      assert.equal(diff.truncateAfter, '2:0');
      assert.deepEqual(diff.restore, []);
      assert.deepEqual(diff.puts, []);
    });

    it('puts new entries that follow the cut', () => {
      const diff = diffStream('ui', ui(1, 2, 7, 8), synced(ui(1, 2, 3, 4)));
      assert.equal(diff.truncateAfter, '2:0');
      assert.deepEqual(diff.puts.map((p) => p.key), ['7:0', '8:0']);
      assert.deepEqual(diff.restore, []);
    });

    it('restores foreign entries before the first own vanished one and cuts after them', () => {
      // 3 and 4 came from elsewhere (missing from a stale memory); the user deleted own 5 and 6.
      const diff = diffStream('ui', ui(1, 2), synced(ui(1, 2, 3, 4, 5, 6), [3, 4]));
      assert.deepEqual(diff.restore, ['3:0', '4:0']);
      assert.equal(diff.truncateAfter, '4:0');
    });

    it('drops foreign entries after the cut with it', () => {
      const diff = diffStream('ui', ui(1, 2), synced(ui(1, 2, 3, 4), [4]));
      assert.equal(diff.truncateAfter, '2:0');
      assert.deepEqual(diff.restore, []);
    });

    it('truncates an api stream that got shorter at its own end', () => {
      const api = (n: number) => Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i}` }));
      const state = keyEntries('api', api(6)).map((e) => ({ key: e.key, hash: e.hash, own: true }));
      const diff = diffStream('api', api(3), state);
      assert.equal(diff.truncateAfter, '2');
      const rewritten = [...api(3), { role: 'user', content: 'new turn' }];
      const second = diffStream('api', rewritten, state);
      assert.equal(second.truncateAfter, '3');
      assert.deepEqual(second.puts.map((p) => p.key), ['3']);
    });
  });

  describe('rules hold on random edits', () => {
    it('never loses a synced entry without a truncate that an own entry justifies', () => {
      const rng = createRng(20260101);
      for (let round = 0; round < 500; round++) {
        const count = rng.int(0, 12);
        const base = ui(...Array.from({ length: count }, (_, i) => 100 + i * 10));
        const state = base.length ? synced(base, base.filter(() => rng.chance(0.4)).map((m) => m.ts)) : [];
        // A random rewrite: drop some entries, change some, append some.
        const current = base.filter(() => rng.chance(0.7)).map((m) => (rng.chance(0.1) ? { ...m, text: 'edited' } : m));
        const extra = rng.int(0, 2);
        for (let i = 0; i < extra; i++) current.push({ ts: 1000 + i, type: 'say', say: 'text', text: 'new' });
        const diff = diffKeyedStream(keyEntries('ui', current), state);
        const present = new Set(keyEntries('ui', current).map((e) => e.key));
        const restored = new Set(diff.restore);
        for (const entry of state) {
          if (present.has(entry.key) || restored.has(entry.key)) continue;
          assert.ok(diff.truncateAfter != null, `round ${round}: ${entry.key} lost without a truncate`);
          assert.ok(compareEntryKeys(entry.key, diff.truncateAfter) > 0, `round ${round}: ${entry.key} lost before the cut`);
        }
        if (diff.truncateAfter != null) {
          const cutOwn = state.filter((e) => e.own && !present.has(e.key) && compareEntryKeys(e.key, diff.truncateAfter!) > 0);
          assert.ok(cutOwn.length > 0, `round ${round}: a truncate without an own entry cut`);
          const keptAfterCut = state.filter((e) => present.has(e.key) && compareEntryKeys(e.key, diff.truncateAfter!) > 0);
          assert.deepEqual(keptAfterCut, [], `round ${round}: the cut drops an entry still in the file`);
        }
        if (current.length === 0) assert.equal(diff.restore.length, state.length);
      }
    });
  });
});

describe('streamChangeBodies', () => {
  it('puts the truncate before the puts', () => {
    const diff = diffStream('ui', ui(1, 2, 7), synced(ui(1, 2, 3)));
    const bodies = streamChangeBodies('roo-code', asTaskId('t'), 'ui', diff);
    assert.deepEqual(bodies.map((b) => [b.type, b.type === 'stream.put' ? b.key : b.afterKey]), [
      ['stream.truncate', '2:0'],
      ['stream.put', '7:0'],
    ]);
  });
});

describe('syncedAfter', () => {
  it('drops cut keys, marks puts as own and keeps restored entries', () => {
    const state = synced(ui(1, 2, 3, 4, 5, 6), [3]);
    // 3 (foreign) vanished and is restored, 5 and 6 (own) were cut, 2 changed, 9 is new.
    const current = [ui(1)[0]!, { ...ui(2)[0]!, text: 'edited' }, ...ui(4, 9)];
    const diff = diffStream('ui', current, state);
    assert.equal(diff.truncateAfter, '4:0');
    const next = syncedAfter(state, diff);
    assert.deepEqual(next.map((e) => [e.key, e.own]), [
      ['1:0', true],
      ['2:0', true],
      ['3:0', false],
      ['4:0', true],
      ['9:0', true],
    ]);
    assert.deepEqual(diffStream('ui', [...current.slice(0, 2), ui(3)[0]!, ...current.slice(2)], next), { puts: [], restore: [] });
  });
});
