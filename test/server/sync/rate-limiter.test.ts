import assert from 'node:assert/strict';
import { DeviceRateLimits, TokenBucket } from '../../../server/sync/rate-limiter';

describe('TokenBucket', () => {
  describe('#take', () => {
    it('allows a burst, then refills at the configured rate', () => {
      let now = 0;
      const bucket = new TokenBucket(10, 5, () => now);
      const burst = Array.from({ length: 6 }, () => bucket.take());
      assert.deepEqual(burst, [true, true, true, true, true, false]);
      now += 100; // 10 per second: one token back after 100 ms
      assert.equal(bucket.take(), true);
      assert.equal(bucket.take(), false);
      now += 10_000; // refills only up to the burst
      assert.equal(Array.from({ length: 6 }, () => bucket.take()).filter(Boolean).length, 5);
    });
  });
});

describe('DeviceRateLimits', () => {
  describe('#acquire', () => {
    it('shares one bucket among the sockets of a device until the last is released', () => {
      const limits = new DeviceRateLimits(1, 2);
      const first = limits.acquire('d1');
      const second = limits.acquire('d1');
      assert.equal(first, second);
      assert.notEqual(limits.acquire('d2'), first);
      limits.release('d1');
      assert.equal(limits.acquire('d1'), first, 'still held by one socket');
      limits.release('d1');
      limits.release('d1');
      assert.notEqual(limits.acquire('d1'), first, 'a fresh bucket after the last release');
    });
  });
});
