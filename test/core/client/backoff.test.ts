import assert from 'node:assert/strict';
import { backoffDelay } from '../../../core/client/backoff';

describe('backoffDelay', () => {
  const options = { initialMs: 100, maxMs: 1000, jitter: 0.5 };

  it('doubles per failure up to the cap when the random draw is the midpoint', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 50].map((n) => backoffDelay(n, options, 0.5)), [100, 200, 400, 800, 1000, 1000]);
  });

  it('spreads by ±jitter around the base delay', () => {
    assert.equal(backoffDelay(3, options, 0), 200);
    assert.equal(backoffDelay(3, options, 0.999999), 600);
  });

  it('has no spread with zero jitter and clamps jitter above one', () => {
    assert.equal(backoffDelay(2, { ...options, jitter: 0 }, 0.9), 200);
    assert.equal(backoffDelay(2, { ...options, jitter: 5 }, 0), 0);
  });
});
