/**
 * The Outbox port's conformance suite: every Outbox (in-memory, file journal) must pass it.
 * `setup` returns a fresh, empty outbox; the suite closes what it opens.
 */
import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import type { Outbox } from '../../../core/ports/outbox';
import { fileDelete, filePut, inputs, streamPut, streamTruncate, taskMeta } from './fixtures';

export function runOutboxConformance(name: string, setup: () => Promise<Outbox>): void {
  describe(`${name} (Outbox conformance)`, () => {
    let outbox: Outbox;
    beforeEach(async () => {
      outbox = await setup();
    });
    afterEach(async () => {
      await outbox.close();
    });

    describe('#enqueue', () => {
      it('assigns strictly increasing clientSeqs from 1', async () => {
        const first = await outbox.enqueue(inputs(filePut('a'), filePut('b')));
        const second = await outbox.enqueue(inputs(filePut('c')));
        assert.deepEqual(
          [...first, ...second].map((c) => c.clientSeq),
          [1, 2, 3],
        );
        assert.equal(outbox.size, 3);
      });

      it('keeps the base version and body it was given', async () => {
        const [change] = await outbox.enqueue([{ body: filePut('a', 4), baseSeq: 17 }]);
        assert.deepEqual(change, { clientSeq: 1, baseSeq: 17, body: filePut('a', 4) });
        assert.deepEqual(outbox.pending(), [change]);
      });

      it('returns nothing and queues nothing for an empty list', async () => {
        assert.deepEqual(await outbox.enqueue([]), []);
        assert.equal(outbox.size, 0);
      });

      it('replaces a queued change to the same entity and moves it to the newer position', async () => {
        await outbox.enqueue(inputs(filePut('a', 1), filePut('b', 1)));
        await outbox.enqueue(inputs(filePut('a', 2)));
        assert.deepEqual(
          outbox.pending().map((c) => [c.clientSeq, c.body]),
          [
            [2, filePut('b', 1)],
            [3, filePut('a', 2)],
          ],
        );
      });

      it('coalesces repeated edits inside one call', async () => {
        const got = await outbox.enqueue(inputs(streamPut('t', '5:0', 'x'), streamPut('t', '5:0', 'xy'), filePut('z')));
        assert.equal(got.length, 3);
        assert.deepEqual(
          outbox.pending().map((c) => c.body),
          [streamPut('t', '5:0', 'xy'), filePut('z')],
        );
      });

      it('merges task metadata fields instead of losing the older ones', async () => {
        await outbox.enqueue(inputs(taskMeta('t', { title: 'a', tokensIn: 1 }, 'c1')));
        await outbox.enqueue(inputs(taskMeta('t', { tokensIn: 2 }, 'c2')));
        const [only] = outbox.pending();
        assert.equal(outbox.size, 1);
        assert.deepEqual(only!.body.type === 'task.meta' && only!.body.fields, { title: 'a', tokensIn: 2 });
      });

      it('keeps both truncations when the newer one drops less', async () => {
        await outbox.enqueue(inputs(streamTruncate('t', '3:0'), streamTruncate('t', '9:0')));
        assert.equal(outbox.size, 2);
        await outbox.enqueue(inputs(streamTruncate('t', null)));
        assert.deepEqual(
          outbox.pending().map((c) => c.body),
          [streamTruncate('t', '3:0'), streamTruncate('t', null)],
        );
      });

      it('rejects a malformed change with OUTBOX_INVALID_CHANGE and queues nothing', async () => {
        const bad = [{ body: { type: 'file.put' }, baseSeq: null }] as unknown as Parameters<Outbox['enqueue']>[0];
        await assert.rejects(outbox.enqueue(bad), (e) => isSyncError(e, 'OUTBOX_INVALID_CHANGE'));
        assert.equal(outbox.size, 0);
      });

      it('keeps replay order equal to clientSeq order across coalescing', async () => {
        // Concurrent calls: a file journal plans them in one group commit.
        await Promise.all(
          Array.from({ length: 200 }, (_, i) => outbox.enqueue(inputs(filePut(`f${i % 7}`, i), fileDelete(`d${i % 5}`)))),
        );
        const seqs = outbox.pending().map((c) => c.clientSeq);
        assert.deepEqual(
          seqs,
          [...seqs].sort((a, b) => a - b),
        );
        assert.equal(outbox.size, 12);
      });
    });

    describe('#queued', () => {
      it('yields what pending() holds, in clientSeq order, and can stop after the first few', async () => {
        await outbox.enqueue(inputs(filePut('a'), filePut('b'), filePut('c'), filePut('d')));
        await outbox.enqueue(inputs(filePut('b', 2)));
        assert.deepEqual([...outbox.queued()], outbox.pending());
        const firstTwo: number[] = [];
        for (const change of outbox.queued()) {
          firstTwo.push(change.clientSeq);
          if (firstTwo.length === 2) break;
        }
        assert.deepEqual(firstTwo, [1, 3]);
      });

      it('reflects acknowledgements made after it was taken (it reads the queue, not a copy)', async () => {
        await outbox.enqueue(inputs(filePut('a'), filePut('b'), filePut('c')));
        const iterator = outbox.queued();
        await outbox.acknowledge([1, 2]);
        assert.deepEqual([...iterator].map((c) => c.clientSeq), [3]);
      });
    });

    describe('#acknowledge', () => {
      it('drops acknowledged changes and ignores unknown seqs', async () => {
        await outbox.enqueue(inputs(filePut('a'), filePut('b'), filePut('c')));
        await outbox.acknowledge([1, 3, 99]);
        assert.deepEqual(
          outbox.pending().map((c) => c.clientSeq),
          [2],
        );
        await outbox.acknowledge([1]);
        assert.equal(outbox.size, 1);
      });

      it('does not reuse acknowledged seqs', async () => {
        await outbox.enqueue(inputs(filePut('a')));
        await outbox.acknowledge([1]);
        const [next] = await outbox.enqueue(inputs(filePut('a', 2)));
        assert.equal(next!.clientSeq, 2);
      });

      it('does not coalesce a new change into an acknowledged one', async () => {
        await outbox.enqueue(inputs(taskMeta('t', { title: 'a' }, 'c1')));
        await outbox.acknowledge([1]);
        await outbox.enqueue(inputs(taskMeta('t', { mode: 'code' }, 'c2')));
        const [only] = outbox.pending();
        assert.deepEqual(only!.body.type === 'task.meta' && only!.body.fields, { mode: 'code' });
      });
    });

    describe('#anchor', () => {
      const seqsAndBodies = () => outbox.pending().map((c) => [c.clientSeq, c.body]);

      it('moves the queue of a fresh outbox above the relay mark, in order, and numbers new changes after it', async () => {
        assert.equal(outbox.anchored, false);
        await outbox.enqueue(inputs(filePut('a', 1), filePut('b')));
        await outbox.enqueue(inputs(filePut('a', 2)));
        assert.deepEqual(await outbox.anchor(10), { action: 'anchored', renumbered: 2, lastSeq: 12 });
        assert.equal(outbox.anchored, true);
        assert.deepEqual(seqsAndBodies(), [
          [11, filePut('b')],
          [12, filePut('a', 2)],
        ]);
        const [next] = await outbox.enqueue(inputs(filePut('c')));
        assert.equal(next!.clientSeq, 13);
      });

      it('anchors an empty fresh outbox at the mark, and at 0 for a device the relay never heard of', async () => {
        assert.deepEqual(await outbox.anchor(0), { action: 'anchored', renumbered: 0, lastSeq: 0 });
        const [first] = await outbox.enqueue(inputs(filePut('a')));
        assert.equal(first!.clientSeq, 1);
      });

      it('keeps the numbers of an anchored outbox at or above the mark, so a re-sent change stays a replay', async () => {
        await outbox.anchor(0);
        await outbox.enqueue(inputs(filePut('a'), filePut('b')));
        // The relay stored both, the acks were lost: the next welcome names 2.
        assert.deepEqual(await outbox.anchor(2), { action: 'kept', renumbered: 0, lastSeq: 2 });
        assert.deepEqual(await outbox.anchor(1), { action: 'kept', renumbered: 0, lastSeq: 2 });
        assert.deepEqual(outbox.pending().map((c) => c.clientSeq), [1, 2]);
      });

      it('renumbers the queue of an anchored outbox that is behind the relay instead of letting it pass for replays', async () => {
        await outbox.anchor(0);
        await outbox.enqueue(inputs(filePut('a')));
        assert.deepEqual(await outbox.anchor(5), { action: 'realigned', renumbered: 1, lastSeq: 6 });
        assert.deepEqual(seqsAndBodies(), [[6, filePut('a')]]);
        const [next] = await outbox.enqueue(inputs(filePut('b')));
        assert.equal(next!.clientSeq, 7);
      });

      it('acknowledges and coalesces by the new numbers', async () => {
        await outbox.enqueue(inputs(filePut('a', 1), filePut('b')));
        await outbox.anchor(3);
        await outbox.acknowledge([1, 2]); // old numbers: nothing queued under them any more
        assert.equal(outbox.size, 2);
        await outbox.enqueue(inputs(filePut('a', 2)));
        assert.deepEqual(seqsAndBodies(), [
          [5, filePut('b')],
          [6, filePut('a', 2)],
        ]);
        await outbox.acknowledge([5]);
        assert.deepEqual(outbox.pending().map((c) => c.clientSeq), [6]);
      });

      it('rejects a mark that is not an integer >= 0 with OUTBOX_INVALID_ANCHOR and changes nothing', async () => {
        await outbox.enqueue(inputs(filePut('a')));
        for (const bad of [-1, 1.5, Number.NaN]) {
          await assert.rejects(outbox.anchor(bad), (e) => isSyncError(e, 'OUTBOX_INVALID_ANCHOR'));
        }
        assert.equal(outbox.anchored, false);
        assert.deepEqual(outbox.pending().map((c) => c.clientSeq), [1]);
      });
    });

    describe('#close', () => {
      it('can be called twice, and calls after it fail with OUTBOX_CLOSED', async () => {
        await outbox.close();
        await outbox.close();
        await assert.rejects(outbox.enqueue(inputs(filePut('a'))), (e) => isSyncError(e, 'OUTBOX_CLOSED'));
        await assert.rejects(outbox.acknowledge([1]), (e) => isSyncError(e, 'OUTBOX_CLOSED'));
        await assert.rejects(outbox.anchor(1), (e) => isSyncError(e, 'OUTBOX_CLOSED'));
      });
    });
  });
}
