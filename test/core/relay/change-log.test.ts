import assert from 'node:assert/strict';
import { asDeviceId, asTaskId } from '../../../core/ids';
import type { ChangeBody } from '../../../core/model/changes';
import { ChangeLog } from '../../../core/relay/change-log';
import { change, metaBody, putBody } from './memory-peer';

const A = asDeviceId('device-a');
const B = asDeviceId('device-b');

describe('ChangeLog', () => {
  describe('#push', () => {
    it('numbers accepted changes 1, 2, 3 in push order', () => {
      const log = new ChangeLog();
      const result = log.push(A, [change(1, putBody('t1', '1:0')), change(2, putBody('t1', '2:0')), change(3, metaBody('t1'))]);
      assert.deepEqual(result.accepted, [
        { clientSeq: 1, seq: 1 },
        { clientSeq: 2, seq: 2 },
        { clientSeq: 3, seq: 3 },
      ]);
      assert.deepEqual(result.committed.map((c) => c.seq), [1, 2, 3]);
      assert.equal(log.serverCursor, 3);
    });

    it('answers a replayed (deviceId, clientSeq) with its original seq and stores it once', () => {
      const log = new ChangeLog();
      log.push(A, [change(1, putBody('t1', '1:0'))]);
      log.push(B, [change(1, putBody('t1', '2:0'))]);
      const replay = log.push(A, [change(1, putBody('t1', '1:0')), change(2, putBody('t1', '3:0'))]);
      assert.deepEqual(replay.accepted, [
        { clientSeq: 1, seq: 1 },
        { clientSeq: 2, seq: 3 },
      ]);
      assert.deepEqual(replay.committed.map((c) => c.seq), [3]);
      assert.equal(log.size, 3);
    });

    it('reports a conflict when baseSeq of a non-mergeable entity is stale', () => {
      const log = new ChangeLog();
      log.push(A, [change(1, metaBody('t1', 'a'))]);
      log.push(B, [change(1, metaBody('t1', 'b'), 1)]);
      const stale = log.push(A, [change(2, metaBody('t1', 'c'), 1), change(3, putBody('t1', '5:0'))]);
      assert.equal(stale.conflicts.length, 1);
      assert.equal(stale.conflicts[0]!.clientSeq, 2);
      assert.equal(stale.conflicts[0]!.entity, 'task/roo-code/t1');
      assert.equal(stale.conflicts[0]!.current.seq, 2);
      assert.deepEqual(stale.accepted, [{ clientSeq: 3, seq: 3 }]);
    });

    it('treats baseSeq null as "no version yet" and conflicts when one exists', () => {
      const log = new ChangeLog();
      assert.equal(log.push(A, [change(1, metaBody('t1'))]).conflicts.length, 0);
      assert.equal(log.push(B, [change(1, metaBody('t1'))]).conflicts.length, 1);
    });

    it('never reports a conflict for mergeable stream entries', () => {
      const log = new ChangeLog();
      log.push(A, [change(1, putBody('t1', '1:0'))]);
      const result = log.push(B, [change(1, putBody('t1', '1:0'), null)]);
      assert.equal(result.conflicts.length, 0);
      assert.equal(log.latest('stream/roo-code/t1/ui/1:0')!.deviceId, B);
    });
  });

  describe('#lastClientSeq', () => {
    it('is the highest clientSeq stored per device, 0 for none, and ignores conflicts', () => {
      const log = new ChangeLog();
      assert.equal(log.lastClientSeq(A), 0);
      log.push(A, [change(1, metaBody('t1', 'a')), change(4, putBody('t1', '1:0'))]);
      log.push(B, [change(7, metaBody('t1', 'b'), 1)]);
      // A replay of an older clientSeq does not lower it; a refused change does not raise it.
      const refused = log.push(A, [change(1, metaBody('t1', 'a')), change(9, metaBody('t1', 'c'), 1)]);
      assert.equal(refused.conflicts.length, 1);
      assert.equal(log.lastClientSeq(A), 4);
      assert.equal(log.lastClientSeq(B), 7);
    });

    it('still counts changes compaction removed', () => {
      const log = new ChangeLog();
      log.push(A, [change(1, putBody('t1', '1:0')), change(2, putBody('t1', '1:0')), change(3, putBody('t1', '2:0'))]);
      log.push(B, [change(1, putBody('t1', '1:0'))]);
      assert.equal(log.compact(10), 2);
      assert.equal(log.lastClientSeq(A), 3);
      log.push(B, [change(2, putBody('t1', '2:0'))]);
      log.compact(10);
      assert.deepEqual(log.pull(0, 10).changes.map((c) => [c.deviceId, c.clientSeq]), [[B, 1], [B, 2]]);
      assert.equal(log.lastClientSeq(A), 3, 'every change of A is gone, its high-water mark is not');
    });
  });

  describe('#pull', () => {
    it('pages by cursor with hasMore', () => {
      const log = new ChangeLog();
      log.push(A, Array.from({ length: 5 }, (_, i) => change(i + 1, putBody('t1', `${i}:0`))));
      const first = log.pull(0, 2);
      assert.deepEqual([first.changes.map((c) => c.seq), first.cursor, first.hasMore], [[1, 2], 2, true]);
      const last = log.pull(4, 2);
      assert.deepEqual([last.changes.map((c) => c.seq), last.cursor, last.hasMore], [[5], 5, false]);
      const empty = log.pull(5, 2);
      assert.deepEqual([empty.changes.length, empty.cursor, empty.hasMore], [0, 5, false]);
    });
  });

  describe('#compact', () => {
    /** task.meta for t1 setting `fields`, each with `clock`. */
    const meta = (fields: Record<string, unknown>, clock: string): ChangeBody => ({
      type: 'task.meta',
      source: 'roo-code',
      taskId: asTaskId('t1'),
      fields,
      clocks: Object.fromEntries(Object.keys(fields).map((name) => [name, clock])),
    });

    it('keeps the latest change per entity and flags cursors before removed seqs for resync', () => {
      const log = new ChangeLog();
      log.push(A, [change(1, putBody('t1', '1:0')), change(2, metaBody('t1', 'a'))]);
      log.push(A, [change(3, putBody('t1', '1:0')), change(4, metaBody('t1', 'b'), 2), change(5, putBody('t1', '2:0'))]);
      assert.equal(log.compact(5), 2);
      assert.deepEqual(log.pull(0, 100).changes.map((c) => c.seq), [3, 4, 5]);
      assert.equal(log.needsResync(0), true);
      assert.equal(log.needsResync(1), true);
      assert.equal(log.needsResync(2), false);
      assert.equal(log.needsResync(6), true, 'a cursor ahead of the log');
      // A replay after compaction is still idempotent.
      assert.deepEqual(log.push(A, [change(1, putBody('t1', '1:0'))]).accepted, [{ clientSeq: 1, seq: 1 }]);
    });

    it('keeps every truncate, so entries an older truncate removed stay removed after a resync', () => {
      const log = new ChangeLog();
      const truncate = (afterKey: string): ChangeBody => ({
        type: 'stream.truncate',
        source: 'roo-code',
        taskId: asTaskId('t1'),
        stream: 'ui',
        afterKey,
      });
      log.push(A, [change(1, putBody('t1', '1:0')), change(2, putBody('t1', '5:0'))]); // seq 1, 2
      log.push(A, [change(3, truncate('2:0'))]); // seq 3 removes 5:0
      log.push(A, [change(4, truncate('8:0'))]); // seq 4 removes nothing
      log.compact(5);
      assert.deepEqual(log.pull(0, 100).changes.map((c) => c.seq), [1, 2, 3, 4]);
    });

    it('folds the fields of removed task metadata changes into the latest one', () => {
      const log = new ChangeLog();
      log.push(A, [change(1, meta({ task: 'first', tokensIn: 10 }, '000000000000001-000000-a'))]);
      log.push(A, [change(2, meta({ tokensIn: 20 }, '000000000000002-000000-a'), 1)]);
      assert.equal(log.compact(3), 1);
      const [latest] = log.pull(0, 100).changes;
      assert.equal(latest!.seq, 2);
      assert.deepEqual(latest!.body.type === 'task.meta' && latest!.body.fields, { task: 'first', tokensIn: 20 });
    });

    it('does not fold metadata from before a task deletion', () => {
      const log = new ChangeLog();
      log.push(A, [change(1, meta({ task: 'old', tokensIn: 10 }, '000000000000001-000000-a'))]);
      log.push(A, [change(2, { type: 'task.delete', source: 'roo-code', taskId: asTaskId('t1'), clock: '000000000000002-000000-a' }, 1)]);
      log.push(A, [change(3, meta({ tokensIn: 5 }, '000000000000003-000000-a'), 2)]);
      log.compact(4);
      const changes = log.pull(0, 100).changes;
      assert.deepEqual(changes.map((c) => c.seq), [3]);
      assert.deepEqual(changes[0]!.body.type === 'task.meta' && changes[0]!.body.fields, { tokensIn: 5 });
    });
  });
});
