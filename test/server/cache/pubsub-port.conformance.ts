/**
 * The PubSub port's conformance suite. `setup` gives two instances on one backend, standing
 * for two relay processes, on channels no other test uses.
 */
import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import type { PubSub } from '../../../server/cache/ports';
import { waitFor } from '../../support/redis';

export interface PubSubFixture {
  /** Two instances on one backend (two relay processes). */
  a: PubSub;
  b: PubSub;
  teardown(): Promise<void>;
}

/** Collects what a listener receives. */
function inbox(): { messages: string[]; listener: (message: string) => void; receive(count: number): Promise<string[]> } {
  const messages: string[] = [];
  return {
    messages,
    listener: (message) => { messages.push(message); },
    async receive(count) {
      await waitFor(() => messages.length >= count, `${count} message(s), have ${messages.length}`, 5_000, 5);
      return messages.slice(0, count);
    },
  };
}

export function pubSubPortConformance(adapter: string, setup: () => Promise<PubSubFixture>): void {
  describe(`PubSub port conformance: ${adapter}`, () => {
    let fixture: PubSubFixture;

    beforeEach(async () => {
      fixture = await setup();
    });

    afterEach(async () => {
      await fixture.teardown();
    });

    describe('#publish', () => {
      it('reaches a listener of the same instance', async () => {
        const box = inbox();
        await fixture.a.subscribe('changes', box.listener);
        await fixture.a.publish('changes', 'hello');
        assert.deepEqual(await box.receive(1), ['hello']);
      });

      it('reaches the other instance, in publish order', async () => {
        const box = inbox();
        await fixture.b.subscribe('changes', box.listener);
        const sent = Array.from({ length: 50 }, (_, i) => `m${i}`);
        for (const message of sent) await fixture.a.publish('changes', message);
        assert.deepEqual(await box.receive(50), sent);
      });

      it('carries unicode and 64 KB messages unchanged', async () => {
        const box = inbox();
        await fixture.b.subscribe('big', box.listener);
        const big = `${'ü'.repeat(32_000)}✓`;
        await fixture.a.publish('big', big);
        await fixture.a.publish('big', '日本');
        assert.deepEqual(await box.receive(2), [big, '日本']);
      });

      it('resolves when nobody listens', async () => {
        await fixture.a.publish('nobody-listens', 'x');
        const box = inbox();
        await fixture.a.subscribe('nobody-listens', box.listener);
        await fixture.a.publish('nobody-listens', 'y');
        assert.deepEqual(await box.receive(1), ['y']);
      });

      it('delivers only to listeners of that channel', async () => {
        const one = inbox();
        const two = inbox();
        await fixture.b.subscribe('one', one.listener);
        await fixture.b.subscribe('two', two.listener);
        await fixture.a.publish('one', 'for-one');
        await fixture.a.publish('two', 'for-two');
        assert.deepEqual(await two.receive(1), ['for-two']);
        assert.deepEqual(one.messages, ['for-one']);
      });
    });

    describe('#subscribe', () => {
      it('delivers to every listener of a channel across both instances', async () => {
        const first = inbox();
        const second = inbox();
        const third = inbox();
        await fixture.a.subscribe('fan', first.listener);
        await fixture.a.subscribe('fan', second.listener);
        await fixture.b.subscribe('fan', third.listener);
        await fixture.b.publish('fan', 'all');
        assert.deepEqual(await first.receive(1), ['all']);
        assert.deepEqual(await second.receive(1), ['all']);
        assert.deepEqual(await third.receive(1), ['all']);
      });

      it('keeps delivering to other listeners when one throws', async () => {
        const box = inbox();
        await fixture.b.subscribe('throws', () => { throw new Error('listener bug'); });
        await fixture.b.subscribe('throws', box.listener);
        await fixture.a.publish('throws', 'first');
        await fixture.a.publish('throws', 'second');
        assert.deepEqual(await box.receive(2), ['first', 'second']);
      });

      it('returns a remover that stops delivery to that listener only', async () => {
        const removed = inbox();
        const kept = inbox();
        const unsubscribe = await fixture.b.subscribe('chan', removed.listener);
        await fixture.b.subscribe('chan', kept.listener);
        await fixture.a.publish('chan', 'before');
        await removed.receive(1);
        await unsubscribe();
        await unsubscribe();
        await fixture.a.publish('chan', 'after');
        assert.deepEqual(await kept.receive(2), ['before', 'after']);
        assert.deepEqual(removed.messages, ['before']);
      });

      it('stops delivery on a channel whose last listener left', async () => {
        const gone = inbox();
        const sentinel = inbox();
        const unsubscribe = await fixture.b.subscribe('left', gone.listener);
        await fixture.b.subscribe('sentinel', sentinel.listener);
        await unsubscribe();
        await fixture.a.publish('left', 'lost');
        await fixture.a.publish('sentinel', 'done');
        // The sentinel was published after, so had 'lost' been delivered it would be here by now.
        await sentinel.receive(1);
        assert.deepEqual(gone.messages, []);
      });

      it('can subscribe again to a channel after leaving it', async () => {
        const first = inbox();
        const again = inbox();
        const unsubscribe = await fixture.b.subscribe('again', first.listener);
        await unsubscribe();
        await fixture.b.subscribe('again', again.listener);
        await fixture.a.publish('again', 'back');
        assert.deepEqual(await again.receive(1), ['back']);
        assert.deepEqual(first.messages, []);
      });
    });

    describe('#healthy', () => {
      it('is true while open and false after close', async () => {
        assert.equal(fixture.a.healthy(), true);
        await fixture.a.close();
        assert.equal(fixture.a.healthy(), false);
        assert.equal(fixture.b.healthy(), true);
      });
    });

    describe('#close', () => {
      it('can be called twice, stops delivery, and later calls fail with PUBSUB_CLOSED', async () => {
        const closedBox = inbox();
        const sentinel = inbox();
        await fixture.b.subscribe('closing', closedBox.listener);
        await fixture.a.subscribe('closing', sentinel.listener);
        await fixture.b.close();
        await fixture.b.close();
        await fixture.a.publish('closing', 'after-close');
        await sentinel.receive(1);
        assert.deepEqual(closedBox.messages, []);
        await assert.rejects(fixture.b.publish('closing', 'x'), (error) => isSyncError(error, 'PUBSUB_CLOSED'));
        await assert.rejects(fixture.b.subscribe('closing', () => undefined), (error) => isSyncError(error, 'PUBSUB_CLOSED'));
      });
    });
  });
}
