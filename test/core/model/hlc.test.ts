import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import { compareHlc, formatHlc, HybridLogicalClock, isHlcStamp, parseHlc } from '../../../core/model/hlc';
import { createRng } from '../../support/rng';

/** A physical clock the test moves by hand. */
function manualClock(start: number) {
  const clock = { now: start, read: () => clock.now };
  return clock;
}

describe('HybridLogicalClock', () => {
  describe('#now', () => {
    it('follows physical time when it moves forward', () => {
      const physical = manualClock(1_700_000_000_000);
      const hlc = new HybridLogicalClock('dev-a', physical.read);
      assert.equal(hlc.now(), '001700000000000-000000-dev-a');
      physical.now += 5;
      assert.equal(hlc.now(), '001700000000005-000000-dev-a');
    });

    it('counts up within one millisecond', () => {
      const hlc = new HybridLogicalClock('dev-a', () => 1000);
      assert.deepEqual([hlc.now(), hlc.now(), hlc.now()].map((s) => parseHlc(s).counter), [0, 1, 2]);
    });

    it('never goes backwards when the physical clock does', () => {
      const physical = manualClock(50_000);
      const hlc = new HybridLogicalClock('dev-a', physical.read);
      const first = hlc.now();
      physical.now = 10_000;
      const second = hlc.now();
      assert.ok(compareHlc(second, first) > 0);
      assert.equal(parseHlc(second).wall, 50_000);
    });

    it('carries a full counter into the wall time', () => {
      const hlc = new HybridLogicalClock('dev-a', () => 1000);
      hlc.receive('000000000001000-999999-dev-b');
      const stamp = hlc.now();
      assert.ok(compareHlc(stamp, '000000000001000-999999-dev-b') > 0);
      assert.deepEqual(parseHlc(stamp), { wall: 1001, counter: 1, deviceId: 'dev-a' });
    });

    it('issues strictly increasing stamps under a random physical clock', () => {
      const rng = createRng(7);
      const physical = manualClock(1_000_000);
      const hlc = new HybridLogicalClock('dev-a', physical.read);
      let last = hlc.now();
      for (let i = 0; i < 2000; i++) {
        physical.now += rng.int(-20, 20);
        if (rng.chance(0.1)) hlc.receive(formatHlc({ wall: physical.now + rng.int(-50, 50), counter: rng.int(0, 5), deviceId: 'dev-b' }));
        const next = hlc.now();
        assert.ok(compareHlc(next, last) > 0, `${next} after ${last}`);
        last = next;
      }
    });
  });

  describe('#receive', () => {
    it('moves past a stamp from the future', () => {
      const hlc = new HybridLogicalClock('dev-a', () => 1000);
      const remote = '000000000009000-000004-dev-b';
      hlc.receive(remote);
      const stamp = hlc.now();
      assert.ok(compareHlc(stamp, remote) > 0);
      assert.equal(parseHlc(stamp).wall, 9000);
    });

    it('takes the larger counter when both sides share the wall time', () => {
      const hlc = new HybridLogicalClock('dev-a', () => 1000);
      hlc.now();
      hlc.receive('000000000001000-000007-dev-b');
      assert.deepEqual(parseHlc(hlc.now()), { wall: 1000, counter: 9, deviceId: 'dev-a' });
    });

    it('restores the last own stamp after a restart with a clock behind it', () => {
      const before = new HybridLogicalClock('dev-a', () => 5000);
      const last = before.now();
      const after = new HybridLogicalClock('dev-a', () => 10);
      after.receive(last);
      assert.ok(compareHlc(after.now(), last) > 0);
    });

    it('refuses a malformed stamp with HLC_INVALID', () => {
      const hlc = new HybridLogicalClock('dev-a');
      assert.throws(() => hlc.receive('12-3-x'), (err) => isSyncError(err, 'HLC_INVALID'));
    });
  });

  it('refuses a device id that is not visible ASCII', () => {
    assert.throws(() => new HybridLogicalClock(''), (err) => isSyncError(err, 'HLC_INVALID'));
    assert.throws(() => new HybridLogicalClock('a b'), (err) => isSyncError(err, 'HLC_INVALID'));
  });
});

describe('compareHlc', () => {
  it('breaks ties of wall time and counter by device id', () => {
    assert.ok(compareHlc('000000000001000-000000-dev-a', '000000000001000-000000-dev-b') < 0);
    assert.equal(compareHlc('000000000001000-000000-dev-a', '000000000001000-000000-dev-a'), 0);
  });

  it('agrees with the order of (wall, counter, device) for random stamps', () => {
    const rng = createRng(11);
    const devices = ['a', 'b', 'dev-1', 'zz'];
    for (let i = 0; i < 1000; i++) {
      const x = { wall: rng.int(0, 3) * 1e12 + rng.int(0, 3), counter: rng.int(0, 3), deviceId: rng.pick(devices) };
      const y = { wall: rng.int(0, 3) * 1e12 + rng.int(0, 3), counter: rng.int(0, 3), deviceId: rng.pick(devices) };
      const expected = Math.sign(x.wall - y.wall || x.counter - y.counter || (x.deviceId < y.deviceId ? -1 : x.deviceId > y.deviceId ? 1 : 0));
      assert.equal(Math.sign(compareHlc(formatHlc(x), formatHlc(y))), expected);
    }
  });
});

describe('parseHlc', () => {
  it('round-trips through formatHlc, device ids with dashes included', () => {
    const parts = { wall: 1_763_000_000_123, counter: 42, deviceId: '0190-abcd-ef' };
    const stamp = formatHlc(parts);
    assert.match(stamp, /^\d{15}-\d{6}-[\x21-\x7e]+$/);
    assert.ok(isHlcStamp(stamp));
    assert.deepEqual(parseHlc(stamp), parts);
  });

  it('refuses malformed stamps with HLC_INVALID', () => {
    for (const bad of ['', '1-2-3', '000000000001000-000000-', '000000000001000-00000-a', '00000000000100x-000000-a', 42]) {
      assert.throws(() => parseHlc(bad as string), (err) => isSyncError(err, 'HLC_INVALID'), String(bad));
      assert.equal(isHlcStamp(bad), false);
    }
  });

  it('formatHlc refuses parts out of range', () => {
    assert.throws(() => formatHlc({ wall: -1, counter: 0, deviceId: 'a' }), (err) => isSyncError(err, 'HLC_INVALID'));
    assert.throws(() => formatHlc({ wall: 1, counter: 1_000_000, deviceId: 'a' }), (err) => isSyncError(err, 'HLC_INVALID'));
  });
});
