import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { EntryCacheIndex, EntryHashSet } from '../../../core/storage/entry-cache-index';

const hashOf = (n: number): string => createHash('sha256').update(String(n)).digest('hex');

describe('EntryCacheIndex', () => {
  it('answers like a Map through growth, overwrites, deletions and reinsertions', () => {
    const index = new EntryCacheIndex();
    const expected = new Map<string, { offset: number; length: number }>();
    for (let i = 0; i < 20_000; i++) {
      const slot = { offset: i * 1000 + 5_000_000_000, length: i % 977 };
      index.set(hashOf(i), slot);
      expected.set(hashOf(i), slot);
    }
    for (let i = 0; i < 20_000; i += 3) {
      assert.equal(index.delete(hashOf(i)), true);
      expected.delete(hashOf(i));
    }
    assert.equal(index.delete(hashOf(0)), false);
    for (let i = 0; i < 20_000; i += 6) {
      index.set(hashOf(i), { offset: i, length: 1 });
      expected.set(hashOf(i), { offset: i, length: 1 });
    }
    index.set(hashOf(1), { offset: 7, length: 8 });
    expected.set(hashOf(1), { offset: 7, length: 8 });
    assert.equal(index.size, expected.size);
    for (let i = 0; i < 20_500; i++) {
      assert.deepEqual(index.get(hashOf(i)), expected.get(hashOf(i)), `hash of ${i}`);
      assert.equal(index.has(hashOf(i)), expected.has(hashOf(i)));
    }
  });

  it('keeps working when deletions fill the table with deleted slots', () => {
    const index = new EntryCacheIndex();
    for (let i = 0; i < 5_000; i++) {
      index.set(hashOf(i), { offset: i, length: 3 });
      index.delete(hashOf(i));
    }
    assert.equal(index.size, 0);
    assert.equal(index.has(hashOf(4_999)), false);
    index.set(hashOf(1), { offset: 9, length: 0 });
    assert.deepEqual(index.get(hashOf(1)), { offset: 9, length: 0 });
  });
});

describe('EntryHashSet', () => {
  it('holds what was added and nothing else', () => {
    const set = new EntryHashSet();
    for (let i = 0; i < 3_000; i += 2) set.add(hashOf(i));
    set.add(hashOf(0));
    assert.equal(set.size, 1_500);
    for (let i = 0; i < 3_000; i++) assert.equal(set.has(hashOf(i)), i % 2 === 0, `hash of ${i}`);
  });
});
