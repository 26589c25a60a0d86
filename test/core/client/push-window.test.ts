/**
 * pushWindowed (core/client/push-window.ts) over a scripted transport whose replies the test
 * releases one by one: how many pushes are in flight, in which order replies are settled, and
 * what a conflict or a failure in the middle of a window does.
 */
import assert from 'node:assert/strict';
import { pushWindowed } from '../../../core/client/push-window';
import { SyncError } from '../../../core/errors';
import { asTaskId } from '../../../core/ids';
import type { ClientChange } from '../../../core/model/changes';
import type { PushOutcome } from '../../../core/ports/sync-transport';

function change(clientSeq: number): ClientChange {
  return {
    clientSeq,
    baseSeq: null,
    body: { type: 'stream.put', source: 'roo-code', taskId: asTaskId('t1'), stream: 'ui', key: `${clientSeq}:0`, hash: 'a'.repeat(64), entry: { n: clientSeq } },
  };
}

/** An outbox as a list, and a transport whose pushes wait until the test answers them. */
class Scripted {
  readonly queued: ClientChange[];
  readonly sent: Array<{ batch: ClientChange[]; answer(outcome: PushOutcome | Error): void }> = [];
  maxInFlight = 0;
  private open = 0;

  constructor(count: number) {
    this.queued = Array.from({ length: count }, (_, i) => change(i + 1));
  }

  nextBatch(inFlight: ReadonlySet<number>, size: number): ClientChange[] {
    return this.queued.filter((c) => !inFlight.has(c.clientSeq)).slice(0, size);
  }

  send(batch: ClientChange[]): Promise<PushOutcome> {
    this.open++;
    this.maxInFlight = Math.max(this.maxInFlight, this.open);
    return new Promise<PushOutcome>((resolve, reject) => {
      this.sent.push({
        batch,
        answer: (outcome) => {
          this.open--;
          if (outcome instanceof Error) reject(outcome);
          else resolve(outcome);
        },
      });
    });
  }

  acknowledge(seqs: number[]): void {
    const done = new Set(seqs);
    for (let i = this.queued.length - 1; i >= 0; i--) if (done.has(this.queued[i]!.clientSeq)) this.queued.splice(i, 1);
  }
}

/** Lets pending promise callbacks run. */
const settleTicks = () => new Promise((resolve) => setImmediate(resolve));

function acceptAll(batch: ClientChange[]): PushOutcome {
  return { accepted: batch.map((c) => ({ clientSeq: c.clientSeq, seq: c.clientSeq })), conflicts: [] };
}

describe('pushWindowed', () => {
  it('keeps at most `window` pushes in flight, never a change in two, and settles replies in send order', async () => {
    const outbox = new Scripted(10);
    const settled: number[][] = [];
    const done = pushWindowed({
      window: 3,
      nextBatch: (inFlight) => outbox.nextBatch(inFlight, 2),
      send: (batch) => outbox.send(batch),
      settle: async (batch, outcome) => {
        settled.push(batch.map((c) => c.clientSeq));
        outbox.acknowledge(outcome.accepted.map((a) => a.clientSeq));
        return true;
      },
    });
    await settleTicks();
    assert.equal(outbox.sent.length, 3, 'three pushes sent before any reply');
    // Replies arrive out of order: the third first. Nothing is settled before the first.
    outbox.sent[2]!.answer(acceptAll(outbox.sent[2]!.batch));
    await settleTicks();
    assert.deepEqual(settled, []);
    for (let i = 0; i < 5; i++) {
      const push = outbox.sent[i]!;
      if (i !== 2) push.answer(acceptAll(push.batch));
      await settleTicks();
    }
    await done;
    assert.equal(outbox.maxInFlight, 3);
    assert.deepEqual(settled, [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]);
    const all = outbox.sent.flatMap((p) => p.batch.map((c) => c.clientSeq));
    assert.deepEqual(all, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'each change sent once');
    assert.equal(outbox.queued.length, 0);
  });

  it('settles a conflict in the middle of a window and sends what its settling queued', async () => {
    const outbox = new Scripted(6);
    const done = pushWindowed({
      window: 3,
      nextBatch: (inFlight) => outbox.nextBatch(inFlight, 2),
      send: (batch) => outbox.send(batch),
      settle: async (batch, outcome) => {
        outbox.acknowledge(outcome.accepted.map((a) => a.clientSeq));
        for (const conflict of outcome.conflicts) {
          // The device resolves the conflict: its result is queued under a new clientSeq.
          outbox.acknowledge([conflict.clientSeq]);
          outbox.queued.push(change(100 + conflict.clientSeq));
        }
        return true;
      },
    });
    await settleTicks();
    const [first, second, third] = outbox.sent;
    first!.answer(acceptAll(first!.batch));
    second!.answer({
      accepted: [{ clientSeq: 3, seq: 3 }],
      conflicts: [{ clientSeq: 4, entity: 'stream/roo-code/t1/ui/4:0', current: { seq: 9, deviceId: 'other' as never, clientSeq: 1, baseSeq: null, entity: 'x', body: change(4).body } }],
    });
    third!.answer(acceptAll(third!.batch));
    await settleTicks();
    await settleTicks();
    const fourth = outbox.sent[3]!;
    assert.deepEqual(fourth.batch.map((c) => c.clientSeq), [104], 'the resolution is pushed after the window moved on');
    fourth.answer(acceptAll(fourth.batch));
    await done;
    assert.equal(outbox.queued.length, 0);
  });

  it('after a failed push sends nothing more, waits for the pushes in flight and rejects with the failure', async () => {
    const outbox = new Scripted(20);
    const settled: number[] = [];
    let finished = false;
    const done = pushWindowed({
      window: 3,
      nextBatch: (inFlight) => outbox.nextBatch(inFlight, 2),
      send: (batch) => outbox.send(batch),
      settle: async (batch, outcome) => {
        settled.push(...batch.map((c) => c.clientSeq));
        outbox.acknowledge(outcome.accepted.map((a) => a.clientSeq));
        return true;
      },
    }).finally(() => {
      finished = true;
    });
    await settleTicks();
    outbox.sent[0]!.answer(new SyncError('CLIENT_DISCONNECTED', 'gone'));
    await settleTicks();
    assert.equal(finished, false, 'still waiting for the two pushes in flight');
    assert.equal(outbox.sent.length, 3, 'nothing sent after the failure');
    outbox.sent[1]!.answer(acceptAll(outbox.sent[1]!.batch));
    outbox.sent[2]!.answer(new SyncError('CLIENT_DISCONNECTED', 'gone'));
    await assert.rejects(done, (error: unknown) => error instanceof SyncError && error.code === 'CLIENT_DISCONNECTED');
    assert.deepEqual(settled, [], 'no reply settled after the failure: its changes stay queued');
    assert.equal(outbox.queued.length, 20);
  });

  it('stops sending when settle says so, and still settles what is in flight', async () => {
    const outbox = new Scripted(10);
    let calls = 0;
    const done = pushWindowed({
      window: 2,
      nextBatch: (inFlight) => outbox.nextBatch(inFlight, 2),
      send: (batch) => outbox.send(batch),
      settle: async () => ++calls > 1,
    });
    await settleTicks();
    outbox.sent[0]!.answer({ accepted: [], conflicts: [] });
    outbox.sent[1]!.answer({ accepted: [], conflicts: [] });
    await done;
    assert.equal(calls, 2);
    assert.equal(outbox.sent.length, 2);
  });
});
