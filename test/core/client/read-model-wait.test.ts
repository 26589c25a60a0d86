/**
 * waitForReadModel (core/client/read-model-wait.ts) against a scripted relay: it waits for the
 * log seq of its first read (not for later pushes), reports how far behind the read model is,
 * gives up with READ_MODEL_BEHIND only when the read model stops moving, and stops on abort.
 * The route it reads is tested on a real relay in test/server/http/task-messages.suite.ts.
 */
import assert from 'node:assert/strict';
import { waitForReadModel } from '../../../core/client/read-model-wait';
import type { ReadModelPosition } from '../../../core/client/task-read-client';
import { SyncError, isSyncError } from '../../../core/errors';

/** A relay that answers the positions in turn, then repeats the last one. */
function scripted(positions: ReadModelPosition[]): { readModel(): Promise<ReadModelPosition>; reads(): number } {
  let reads = 0;
  return {
    readModel: async () => positions[Math.min(reads++, positions.length - 1)]!,
    reads: () => reads,
  };
}

describe('waitForReadModel', () => {
  it('returns at once when the read model is caught up', async () => {
    const relay = scripted([{ logSeq: 40, projectedSeq: 40 }]);
    const result = await waitForReadModel(relay, { pollMs: 1 });
    assert.deepEqual([result.behindAtStart, result.aborted, relay.reads()], [0, false, 1]);
  });

  it('waits until the read model reaches the log seq of the first read, reporting what it lacks', async () => {
    // Pushes go on meanwhile (logSeq grows): the wait is for what was pushed before it began.
    const relay = scripted([
      { logSeq: 100, projectedSeq: 10 },
      { logSeq: 120, projectedSeq: 60 },
      { logSeq: 150, projectedSeq: 100 },
      { logSeq: 150, projectedSeq: 110 },
    ]);
    const behind: number[] = [];
    const result = await waitForReadModel(relay, { pollMs: 1, onBehind: (n) => behind.push(n) });
    assert.deepEqual(behind, [90, 40]);
    assert.deepEqual([result.behindAtStart, result.aborted, relay.reads()], [90, false, 3]);
  });

  it('gives up with READ_MODEL_BEHIND when the read model stops moving for stallMs, not while it moves', async () => {
    let clock = 0;
    const now = () => (clock += 10); // every look at the clock: 10 ms later
    const moving = scripted([{ logSeq: 100, projectedSeq: 0 }, ...Array.from({ length: 20 }, (_, i) => ({ logSeq: 100, projectedSeq: (i + 1) * 5 }))]);
    const result = await waitForReadModel(moving, { pollMs: 1, stallMs: 50, now });
    assert.equal(result.aborted, false, 'twenty slow steps, each within stallMs: it waited them all');

    const stuck = scripted([{ logSeq: 100, projectedSeq: 0 }, { logSeq: 100, projectedSeq: 30 }]);
    await assert.rejects(waitForReadModel(stuck, { pollMs: 1, stallMs: 50, now }), (e: unknown) => {
      assert.ok(isSyncError(e, 'READ_MODEL_BEHIND'), String(e));
      assert.deepEqual(e.details, { logSeq: 100, projectedSeq: 30 });
      return true;
    });
  });

  it('has nothing to wait for on a relay older than the route (404 ROUTE_NOT_FOUND); other errors propagate', async () => {
    const old = { readModel: async (): Promise<ReadModelPosition> => { throw new SyncError('ROUTE_NOT_FOUND', 'no such route'); } };
    assert.deepEqual(await waitForReadModel(old, { now: () => 0 }), { behindAtStart: 0, waitedMs: 0, aborted: false });
    const down = { readModel: async (): Promise<ReadModelPosition> => { throw new SyncError('RELAY_UNREACHABLE', 'connection refused'); } };
    await assert.rejects(waitForReadModel(down), (e: unknown) => isSyncError(e, 'RELAY_UNREACHABLE'));
  });

  it('returns aborted when the signal fires while it waits', async () => {
    const controller = new AbortController();
    const relay = scripted([{ logSeq: 100, projectedSeq: 0 }]);
    const waiting = waitForReadModel(relay, { pollMs: 60_000, signal: controller.signal, onBehind: () => setImmediate(() => controller.abort()) });
    const result = await waiting;
    assert.deepEqual([result.aborted, result.behindAtStart], [true, 100]);
  });
});
