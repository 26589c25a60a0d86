import assert from 'node:assert/strict';
import { keyEntriesStable } from '../../../core/storage/stable-keys';

const msg = (ts: number, text: string) => ({ ts, type: 'say', text });

describe('keyEntriesStable', () => {
  it('keeps the synced occurrence when an earlier entry with the same ts is gone', () => {
    const synced = new Map([['5:1', {}], ['3:0', {}]]);
    const keyed = keyEntriesStable('ui', [msg(3, 'a'), msg(5, 'b'), msg(5, 'c')], synced);
    assert.deepEqual(keyed.map((e) => e.key), ['3:0', '5:1', '5:2']);
  });

  it('gives the keys keyEntries gives when the synced keys have no holes', () => {
    const synced = new Map([['5:0', {}], ['5:1', {}]]);
    assert.deepEqual(keyEntriesStable('ui', [msg(5, 'a'), msg(5, 'b'), msg(6, 'c')], synced).map((e) => e.key), ['5:0', '5:1', '6:0']);
    assert.deepEqual(keyEntriesStable('api', [{ role: 'user' }], new Map([['3', {}]])).map((e) => e.key), ['0']);
  });
});
