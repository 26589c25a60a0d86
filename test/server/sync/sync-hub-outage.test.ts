/**
 * SyncHub across a pub/sub outage, two processes on one pub/sub: changes one process committed
 * while its fan-out could not be published are announced again when pub/sub is healthy, so a
 * device on the other process pulls them even when that process recovered first and had
 * already asked its devices to pull (the fault suite's redis-restart waited for the device's
 * 60 s poll there).
 */
import assert from 'node:assert/strict';
import { MemoryPubSub, MemoryPubSubHub } from '../../../server/cache/memory-pubsub';
import type { PubSub, Unsubscribe } from '../../../server/cache/ports';
import { silentLogger } from '../../../server/observability/logger';
import { SyncHub } from '../../../server/sync/sync-hub';
import { change, connection } from './hub-fixtures';

/** A MemoryPubSub that can be taken down (publish fails) and brought back (health listeners told). */
class FlakyPubSub implements PubSub {
  up = true;
  private readonly listeners = new Set<(healthy: boolean) => void>();
  constructor(private readonly inner: MemoryPubSub) {}
  async publish(channel: string, message: string): Promise<void> {
    if (!this.up) throw new Error('pub/sub down');
    await this.inner.publish(channel, message);
  }
  subscribe(channel: string, listener: (message: string) => void): Promise<Unsubscribe> {
    return this.inner.subscribe(channel, listener);
  }
  healthy(): boolean {
    return this.up;
  }
  onHealthChange(listener: (healthy: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  set(up: boolean): void {
    this.up = up;
    for (const listener of this.listeners) listener(up);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}



const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('SyncHub across a pub/sub outage', () => {
  it('announces the changes whose fan-out was lost once pub/sub is back, after the other process asked its devices to pull', async () => {
    const shared = new MemoryPubSubHub();
    const pubA = new FlakyPubSub(new MemoryPubSub({ hub: shared }));
    const pubB = new FlakyPubSub(new MemoryPubSub({ hub: shared }));
    const options = { logger: silentLogger, onCommandPending: () => undefined, onResultTold: () => undefined };
    const hubA = new SyncHub({ ...options, pubsub: pubA });
    const hubB = new SyncHub({ ...options, pubsub: pubB });
    const onB: string[] = [];
    await hubA.join(connection('u1', 'dev-a', []));
    await hubB.join(connection('u1', 'dev-b', onB));

    pubA.set(false);
    pubB.set(false);
    pubB.set(true); // B is back first: it asks its devices to pull now ...
    assert.deepEqual(onB.map((p) => JSON.parse(p).hasMore), [true]);
    hubA.publishChanges('u1', 'dev-a', [change(7), change(8)], Date.now()); // ... before A commits these
    await settle();
    assert.equal(onB.length, 1, 'A could not publish them');
    pubA.set(true);
    await settle();
    assert.equal(onB.length, 2, 'A announced them when it was back');
    const page = JSON.parse(onB[1]!);
    assert.deepEqual([page.changes, page.hasMore, page.cursor], [[], true, 6], 'an empty page: pull from before the first');

    // Announced once: a later recovery does not repeat it.
    pubA.set(false);
    pubA.set(true);
    await settle();
    assert.equal(onB.filter((p) => JSON.parse(p).cursor === 6).length, 1);
    await hubA.close();
    await hubB.close();
  });
});
