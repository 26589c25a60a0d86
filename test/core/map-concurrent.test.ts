import assert from 'node:assert/strict';
import { mapConcurrent } from '../../core/map-concurrent';

describe('mapConcurrent', () => {
  it('keeps the items order and never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const out = await mapConcurrent([5, 1, 4, 2, 3, 0, 6], 3, async (n, i) => {
      running++;
      most = Math.max(most, running);
      for (let k = 0; k < n; k++) await Promise.resolve();
      running--;
      return `${i}:${n}`;
    });
    assert.deepEqual(out, ['0:5', '1:1', '2:4', '3:2', '4:3', '5:0', '6:6']);
    assert.equal(most, 3);
  });

  it('rejects with the first failure and starts nothing after it', async () => {
    const started: number[] = [];
    await assert.rejects(
      mapConcurrent([0, 1, 2, 3, 4, 5], 2, async (n) => {
        started.push(n);
        await Promise.resolve();
        if (n === 1) throw new Error('item 1');
        return n;
      }),
      /item 1/,
    );
    assert.ok(!started.includes(4) && !started.includes(5), `started ${started.join(',')}`);
  });
});
