import assert from 'node:assert/strict';
import { IndexEntryChanges, type IndexEntries } from '../../../core/node/watch/index-entry-changes';
import type { HistoryItem } from '../../../core/ports/task-store';

const item = (id: string, totalCost = 0): HistoryItem => ({ id, number: 1, ts: 1, task: id, tokensIn: 0, tokensOut: 0, totalCost });

describe('IndexEntryChanges', () => {
  let current: IndexEntries = null;
  let failing = false;
  const changes = () =>
    new IndexEntryChanges(async () => {
      if (failing) throw new Error('corrupt index');
      return current;
    });
  const index = (...items: HistoryItem[]) => (current = new Map(items.map((i) => [i.id, i])));

  beforeEach(() => {
    current = null;
    failing = false;
  });

  it('has nothing to compare with on the first read (the caller checks every task)', async () => {
    index(item('a'));
    assert.equal(await changes().next(), null);
  });

  it('names the tasks whose entry was added, changed or removed, and no other', async () => {
    const tracker = changes();
    index(item('a'), item('b'), item('c'));
    await tracker.next();
    index(item('a'), item('b', 0.5), item('d'));
    assert.deepEqual(await tracker.next(), ['b', 'c', 'd']);
    assert.deepEqual(await tracker.next(), [], 'an unchanged index names nothing');
  });

  it('treats a missing index as empty: every task it held is named', async () => {
    const tracker = changes();
    index(item('a'), item('b'));
    await tracker.next();
    current = null;
    assert.deepEqual(await tracker.next(), ['a', 'b']);
  });

  it('forgets what it saw when a read fails, so the next read is compared with nothing', async () => {
    const tracker = changes();
    index(item('a'));
    await tracker.next();
    failing = true;
    await assert.rejects(tracker.next(), /corrupt index/);
    failing = false;
    assert.equal(await tracker.next(), null);
  });
});
