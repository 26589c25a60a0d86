/**
 * SyncHub's fan-out of committed changes: a device on this process gets them serialised whole;
 * the other processes get them inline up to the limit, else an announcement to pull. With no
 * other device here, the changes are serialised only as far as that limit (a migration pushes
 * large batches while no other device of the user is online).
 */
import assert from 'node:assert/strict';
import { MemoryPubSub, MemoryPubSubHub } from '../../../server/cache/memory-pubsub';
import { silentLogger } from '../../../server/observability/logger';
import { jsonUpTo, SyncHub, userChannel } from '../../../server/sync/sync-hub';
import { change, connection } from './hub-fixtures';



const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('jsonUpTo', () => {
  it('gives JSON.stringify of the changes while they fit, and undefined once they pass the limit', () => {
    const changes = [change(1, 'a'), change(2, 'b'), change(3, 'é✓')];
    const whole = JSON.stringify(changes);
    assert.equal(jsonUpTo(changes, whole.length), whole);
    assert.equal(jsonUpTo(changes, whole.length - 1), undefined);
    assert.equal(jsonUpTo([], 10), '[]');
  });
});

describe('SyncHub#publishChanges', () => {
  async function setUp(withLocalDevice: boolean) {
    const shared = new MemoryPubSubHub();
    const options = { logger: silentLogger, onCommandPending: () => undefined, onResultTold: () => undefined };
    const here = new SyncHub({ ...options, pubsub: new MemoryPubSub({ hub: shared }) });
    const listener = new MemoryPubSub({ hub: shared });
    const published: string[] = [];
    await listener.subscribe(userChannel('u1'), (message) => published.push(message.slice(message.indexOf('|') + 1)));
    const local: string[] = [];
    await here.join(connection('u1', 'dev-a', []));
    if (withLocalDevice) await here.join(connection('u1', 'dev-b', local));
    return { here, listener, published, local };
  }

  it('inlines small changes for the other processes whether or not a device here takes them', async () => {
    for (const withLocalDevice of [false, true]) {
      const { here, listener, published, local } = await setUp(withLocalDevice);
      here.publishChanges('u1', 'dev-a', [change(7), change(8)], Date.now());
      await settle();
      assert.deepEqual(JSON.parse(published[0]!).changes, [change(7), change(8)]);
      assert.equal(local.length, withLocalDevice ? 1 : 0);
      await here.close();
      await listener.close();
    }
  });

  it('announces large changes without them (other processes pull), and still hands them whole to a device here', async () => {
    for (const withLocalDevice of [false, true]) {
      const { here, listener, published, local } = await setUp(withLocalDevice);
      const big = [change(7, 'x'.repeat(200 * 1024)), change(8, 'y'.repeat(200 * 1024))];
      here.publishChanges('u1', 'dev-a', big, Date.now());
      await settle();
      const envelope = JSON.parse(published[0]!);
      assert.deepEqual([envelope.t, envelope.first, envelope.last, envelope.changes], ['changes', 7, 8, undefined]);
      if (withLocalDevice) assert.deepEqual(JSON.parse(local[0]!).changes, big);
      else assert.equal(local.length, 0);
      await here.close();
      await listener.close();
    }
  });
});
