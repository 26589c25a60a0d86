import assert from 'node:assert/strict';
import { asTaskId } from '../../../core/ids';
import type { StreamPutBody, StreamTruncateBody } from '../../../core/model/changes';
import { hashJson } from '../../../core/model/hash';
import { applyStreamChanges, orderStream } from '../../../core/merge/stream-merge';
import { keyEntries, type KeyedEntry } from '../../../core/tracking/stream-keys';
import { createRng } from '../../support/rng';

const taskId = asTaskId('t1');
const put = (ts: number, text = `m${ts}`, occurrence = 0): StreamPutBody => {
  const entry = { ts, type: 'say', say: 'text', text };
  return { type: 'stream.put', source: 'roo-code', taskId, stream: 'ui', key: `${ts}:${occurrence}`, hash: hashJson(entry), entry };
};
const truncate = (afterKey: string | null): StreamTruncateBody => ({ type: 'stream.truncate', source: 'roo-code', taskId, stream: 'ui', afterKey });
const keys = (entries: KeyedEntry[]) => entries.map((e) => e.key);

describe('applyStreamChanges', () => {
  it('unions entries by key and returns them in key order', () => {
    const local = keyEntries('ui', [{ ts: 10 }, { ts: 30 }]);
    const merged = applyStreamChanges(local, [put(20), put(5), put(100)]);
    assert.deepEqual(keys(merged), ['5:0', '10:0', '20:0', '30:0', '100:0']);
  });

  it('lets the later change win for one key', () => {
    const merged = applyStreamChanges([], [put(1, 'first'), put(1, 'second')]);
    assert.deepEqual((merged[0]!.entry as { text: string }).text, 'second');
    assert.equal(merged[0]!.hash, hashJson(merged[0]!.entry));
  });

  it('drops keys after a truncate and keeps puts that come after it', () => {
    const merged = applyStreamChanges([], [put(1), put(2), put(3), truncate('1:0'), put(4)]);
    assert.deepEqual(keys(merged), ['1:0', '4:0']);
    assert.deepEqual(keys(applyStreamChanges(merged, [truncate(null)])), []);
  });

  it('orders api positions numerically', () => {
    const entries: KeyedEntry[] = [
      { key: '10', hash: 'h', entry: 'ten' },
      { key: '9', hash: 'h', entry: 'nine' },
    ];
    assert.deepEqual(keys(applyStreamChanges(entries, [])), ['9', '10']);
  });

  it('converges: any split of one change log into batches gives the same entries', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rng = createRng(seed);
      const log: Array<StreamPutBody | StreamTruncateBody> = [];
      for (let i = 0; i < 60; i++) {
        log.push(rng.chance(0.08) ? truncate(rng.chance(0.1) ? null : `${rng.int(0, 40)}:0`) : put(rng.int(0, 40), `v${i}`));
      }
      const once = applyStreamChanges([], log);
      let stepwise: KeyedEntry[] = [];
      for (let at = 0; at < log.length; ) {
        const size = rng.int(1, 7);
        stepwise = applyStreamChanges(stepwise, log.slice(at, at + size));
        at += size;
      }
      assert.deepEqual(stepwise, once, `seed ${seed}`);
    }
  });
});

describe('orderStream', () => {
  it('returns the raw entries in key order', () => {
    const entries = keyEntries('ui', [{ ts: 3 }, { ts: 1 }, { ts: 1 }]);
    assert.deepEqual(orderStream(entries), [{ ts: 1 }, { ts: 1 }, { ts: 3 }]);
  });
});
