import assert from 'node:assert/strict';
import { deepEqual, diffHistoryItem } from '../../../core/tracking/history-diff';

const item = { id: 't1', number: 1, ts: 1000, task: 'Fix the build', tokensIn: 10, tokensOut: 5, totalCost: 0.01, childIds: ['a', 'b'], extra: { x: 1, y: [1, 2] } };

describe('diffHistoryItem', () => {
  it('finds nothing when the item equals the synced fields (object key order aside)', () => {
    const synced = { ...item, extra: { y: [1, 2], x: 1 } };
    assert.deepEqual(diffHistoryItem(item, synced), []);
  });

  it('names changed, new and removed fields, sorted', () => {
    const current: Record<string, unknown> & { id: string } = { ...item, tokensIn: 20, mode: 'code', childIds: ['a', 'b', 'c'] };
    delete current.extra;
    assert.deepEqual(diffHistoryItem(current, item), ['childIds', 'extra', 'mode', 'tokensIn']);
  });

  it('changes nothing for a missing HistoryItem (empty is not a deletion)', () => {
    assert.deepEqual(diffHistoryItem(null, item), []);
  });

  it('treats undefined as absent and a synced null as already removed', () => {
    assert.deepEqual(diffHistoryItem({ ...item, mode: undefined }, { ...item, status: null }), []);
  });

  it('names every field of an item never synced', () => {
    assert.deepEqual(diffHistoryItem({ id: 'x', ts: 1 }, {}), ['id', 'ts']);
  });
});

describe('deepEqual', () => {
  it('compares nested JSON values structurally', () => {
    assert.equal(deepEqual({ a: [1, { b: null }] }, { a: [1, { b: null }] }), true);
    assert.equal(deepEqual([1, 2], [2, 1]), false);
    assert.equal(deepEqual({ a: 1 }, { a: 1, b: 2 }), false);
    assert.equal(deepEqual([], {}), false);
    assert.equal(deepEqual(1, '1'), false);
    assert.equal(deepEqual(null, {}), false);
  });
});
