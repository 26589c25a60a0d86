import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import type { ServerChange } from '../../../core/model/changes';
import { CloseCode } from '../../../core/protocol/close-codes';
import { DirectLink } from '../../../core/relay/direct-link';
import { ReferenceRelay } from '../../../core/relay/reference-relay';
import { ManualScheduler } from '../../../core/relay/scheduler';
import { change, putBody } from './memory-peer';

describe('DirectLink', () => {
  function setup() {
    const relay = new ReferenceRelay({ scheduler: new ManualScheduler() });
    const user = relay.addUser();
    return { relay, a: relay.addDevice(user), b: relay.addDevice(user) };
  }

  describe('#constructor', () => {
    it('throws DIRECT_LINK_REFUSED with the close code for a bad token', () => {
      const { relay, a } = setup();
      assert.throws(
        () => new DirectLink(relay, { deviceId: a.deviceId, token: 'bad' }),
        (e: unknown) => isSyncError(e, 'DIRECT_LINK_REFUSED') && e.details?.closeCode === CloseCode.Unauthorized,
      );
    });
  });

  describe('#push', () => {
    it('pushes through the relay and delivers live changes to the other link', async () => {
      const { relay, a, b } = setup();
      const la = new DirectLink(relay, a);
      const lb = new DirectLink(relay, b);
      const live: ServerChange[] = [];
      lb.onLiveChanges((changes) => live.push(...changes));
      assert.deepEqual((await la.push([change(1, putBody('t', '1:0'))])).accepted, [{ clientSeq: 1, seq: 1 }]);
      assert.deepEqual(live.map((c) => c.seq), [1]);
      assert.deepEqual((await lb.pull(0, 10)).cursor, 1);
      assert.equal(new DirectLink(relay, { ...b, cursor: 1 }).welcome.serverCursor, 1);
    });
  });

  describe('#close', () => {
    it('is idempotent and refuses requests afterwards', async () => {
      const { relay, a } = setup();
      const link = new DirectLink(relay, a);
      link.close();
      link.close();
      await assert.rejects(link.pull(0, 1), (e: unknown) => isSyncError(e, 'DIRECT_LINK_CLOSED'));
      assert.equal(relay.connectionCount(a.deviceId), 0);
    });
  });
});
