import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import { hashJson } from '../../../core/model/hash';
import { keyEntries, sortByKey } from '../../../core/tracking/stream-keys';

describe('keyEntries', () => {
  it('keys ui entries by ts and occurrence of that ts', () => {
    const ui = [{ ts: 100, say: 'text' }, { ts: 200, say: 'a' }, { ts: 200, say: 'b' }, { ts: 300 }, { ts: 200, say: 'c' }];
    assert.deepEqual(
      keyEntries('ui', ui).map((e) => e.key),
      ['100:0', '200:0', '200:1', '300:0', '200:2'],
    );
  });

  it('keys api entries by position', () => {
    const api = [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'y' }];
    assert.deepEqual(keyEntries('api', api).map((e) => e.key), ['0', '1']);
  });

  it('hashes each entry as sha256 of its JSON text and keeps the entry', () => {
    const entry = { ts: 5, text: 'héllo' };
    const [keyed] = keyEntries('ui', [entry]);
    assert.equal(keyed!.hash, hashJson(entry));
    assert.equal(keyed!.entry, entry);
  });

  it('refuses a ui entry without a usable ts with STREAM_ENTRY_INVALID', () => {
    for (const bad of [{}, { ts: '5' }, { ts: -1 }, { ts: 1.5 }, null, 'text']) {
      assert.throws(() => keyEntries('ui', [{ ts: 1 }, bad]), (err) => isSyncError(err, 'STREAM_ENTRY_INVALID'));
    }
  });
});

describe('sortByKey', () => {
  it('returns the same array when it is already in key order', () => {
    const items = [{ key: '9:0' }, { key: '10:0' }, { key: '10:1' }];
    assert.equal(sortByKey(items), items);
  });

  it('sorts keys numerically, not as strings', () => {
    const items = [{ key: '10' }, { key: '9' }, { key: '100' }];
    assert.deepEqual(sortByKey(items).map((i) => i.key), ['9', '10', '100']);
    assert.deepEqual(sortByKey([{ key: '5:10' }, { key: '5:9' }]).map((i) => i.key), ['5:9', '5:10']);
  });
});
