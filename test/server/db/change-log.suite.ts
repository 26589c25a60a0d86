/**
 * Change-log behaviour, run on every adapter (change-log.pglite.test.ts, change-log.postgres.test.ts).
 * The database handed in is migrated; the suite resets it between tests.
 */
import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import type { DeviceId, UserId } from '../../../core/ids';
import { asRequestId, asTaskId } from '../../../core/ids';
import type { ClientChange, ServerChange, TaskMetaBody } from '../../../core/model/changes';
import { appendChanges, appendPushes, compactLog, logHead, pullChanges, pullStoredChanges } from '../../../server/db/change-log';
import { writePullReply } from '../../../server/sync/pull-reply';
import { Utf8Writer } from '../../../server/sync/utf8-writer';
import { parseServerMessage } from '../../../core/protocol/validate';
import type { Database } from '../../../server/db/database';
import { resetDatabase } from '../../support/postgres';
import { filePut, hlc, insertUser, newDeviceId, streamPut, taskMeta } from './fixtures';

export function changeLogSuite(getDb: () => Database): void {
  const db = () => getDb();
  let user: UserId;
  let deviceA: DeviceId;
  let deviceB: DeviceId;

  beforeEach(async () => {
    await resetDatabase(db());
    user = await insertUser(db());
    deviceA = newDeviceId();
    deviceB = newDeviceId();
  });

  describe('#appendChanges', () => {
    it('numbers changes 1, 2, 3... in push order and stores them', async () => {
      const result = await appendChanges(db(), user, deviceA, [streamPut(1, '1:0'), streamPut(2, '2:0'), streamPut(3, '3:0')]);
      assert.deepEqual(result.accepted, [
        { clientSeq: 1, seq: 1 },
        { clientSeq: 2, seq: 2 },
        { clientSeq: 3, seq: 3 },
      ]);
      assert.deepEqual(result.conflicts, []);
      assert.deepEqual(
        result.stored.map((s) => [s.seq, s.deviceId, s.entity]),
        [
          [1, deviceA, 'stream/roo-code/task-1/ui/1:0'],
          [2, deviceA, 'stream/roo-code/task-1/ui/2:0'],
          [3, deviceA, 'stream/roo-code/task-1/ui/3:0'],
        ],
      );
      const next = await appendChanges(db(), user, deviceB, [streamPut(1, '4:0')]);
      assert.deepEqual(next.accepted, [{ clientSeq: 1, seq: 4 }]);
      assert.equal((await logHead(db(), user)).seq, 4);
    });

    it('keeps each user on its own numbering', async () => {
      const other = await insertUser(db());
      await appendChanges(db(), user, deviceA, [streamPut(1, '1:0'), streamPut(2, '2:0')]);
      const result = await appendChanges(db(), other, deviceB, [streamPut(1, '1:0')]);
      assert.deepEqual(result.accepted, [{ clientSeq: 1, seq: 1 }]);
      const page = await pullChanges(db(), other, 0, 10);
      assert.deepEqual(
        page.changes.map((c) => c.deviceId),
        [deviceB],
      );
    });

    it('acknowledges a replay with its original seq and stores it once', async () => {
      await appendChanges(db(), user, deviceA, [streamPut(1, '1:0'), streamPut(2, '2:0')]);
      await appendChanges(db(), user, deviceB, [streamPut(1, '3:0')]);
      const replay = await appendChanges(db(), user, deviceA, [streamPut(2, '2:0'), streamPut(3, '5:0')]);
      assert.deepEqual(replay.accepted, [
        { clientSeq: 2, seq: 2 },
        { clientSeq: 3, seq: 4 },
      ]);
      assert.deepEqual(
        replay.stored.map((s) => s.clientSeq),
        [3],
      );
      const all = await pullChanges(db(), user, 0, 100);
      assert.deepEqual(
        all.changes.map((c) => c.seq),
        [1, 2, 3, 4],
      );
    });

    it('returns bodies exactly as pushed (key order kept)', async () => {
      const entry = { z: 1, a: { y: [3, 2, 1], b: 'x' }, text: 'ünïcödé "quoted"' };
      await appendChanges(db(), user, deviceA, [streamPut(1, '1:0', entry)]);
      const page = await pullChanges(db(), user, 0, 10);
      const body = page.changes[0]!.body;
      assert.equal(JSON.stringify(body), JSON.stringify(streamPut(1, '1:0', entry).body));
    });

    it('reports a conflict when another device changed a non-mergeable entity after the base', async () => {
      const first = await appendChanges(db(), user, deviceA, [filePut(1, null, 'src/a.ts')]);
      assert.deepEqual(first.accepted, [{ clientSeq: 1, seq: 1 }]);
      const stale = await appendChanges(db(), user, deviceB, [filePut(1, null, 'src/a.ts', 'c'.repeat(64)), streamPut(2, '1:0')]);
      assert.deepEqual(stale.accepted, [{ clientSeq: 2, seq: 2 }]);
      assert.equal(stale.conflicts.length, 1);
      const conflict = stale.conflicts[0]!;
      assert.equal(conflict.clientSeq, 1);
      assert.equal(conflict.entity, 'file/ws-1/src/a.ts');
      assert.equal(conflict.current.seq, 1);
      assert.equal(conflict.current.deviceId, deviceA);
      // After seeing seq 1 the device pushes again and is accepted.
      const resolved = await appendChanges(db(), user, deviceB, [filePut(3, 1, 'src/a.ts', 'c'.repeat(64))]);
      assert.deepEqual(resolved.accepted, [{ clientSeq: 3, seq: 3 }]);
      assert.deepEqual(resolved.conflicts, []);
    });

    it('never reports a conflict against the device\'s own later changes', async () => {
      await appendChanges(db(), user, deviceA, [taskMeta(1, null, { title: 'a' }, hlc(1))]);
      // The device did not yet learn seq 1 and pushes another edit with the same base.
      const again = await appendChanges(db(), user, deviceA, [taskMeta(2, null, { title: 'b' }, hlc(2))]);
      assert.deepEqual(again.conflicts, []);
      assert.deepEqual(again.accepted, [{ clientSeq: 2, seq: 2 }]);
    });

    it('never reports a conflict for mergeable stream entries', async () => {
      await appendChanges(db(), user, deviceA, [streamPut(1, '1:0', { v: 'a' })]);
      const result = await appendChanges(db(), user, deviceB, [streamPut(1, '1:0', { v: 'b' })]);
      assert.deepEqual(result.conflicts, []);
      assert.deepEqual(result.accepted, [{ clientSeq: 1, seq: 2 }]);
    });

    it('rejects malformed changes with CHANGE_INVALID and stores nothing', async () => {
      for (const bad of [
        [streamPut(0, '1:0')],
        [streamPut(1.5, '1:0')],
        [streamPut(1, '1:0'), streamPut(1, '2:0')],
        [{ ...streamPut(1, '1:0'), baseSeq: -1 }],
        [{ clientSeq: 1, baseSeq: null, body: { type: 'nope' } } as never],
      ]) {
        await assert.rejects(appendChanges(db(), user, deviceA, bad), (err: unknown) => isSyncError(err, 'CHANGE_INVALID'));
      }
      assert.equal((await logHead(db(), user)).seq, 0);
    });

    it('gives two concurrent appends of one user distinct consecutive seqs', async () => {
      const [a, b] = await Promise.all([
        appendChanges(db(), user, deviceA, [streamPut(1, '1:0'), streamPut(2, '2:0'), streamPut(3, '3:0')]),
        appendChanges(db(), user, deviceB, [streamPut(1, '4:0'), streamPut(2, '5:0'), streamPut(3, '6:0')]),
      ]);
      const seqsA = a.accepted.map((x) => x.seq);
      const seqsB = b.accepted.map((x) => x.seq);
      for (const seqs of [seqsA, seqsB]) assert.deepEqual(seqs, [seqs[0]!, seqs[0]! + 1, seqs[0]! + 2]);
      assert.deepEqual([...seqsA, ...seqsB].sort((x, y) => x - y), [1, 2, 3, 4, 5, 6]);
    });

    it('answers two concurrent copies of one push with the same seqs and stores it once', async () => {
      const push = [streamPut(1, '1:0'), streamPut(2, '2:0'), streamPut(3, '3:0')];
      const [a, b] = await Promise.all([appendChanges(db(), user, deviceA, push), appendChanges(db(), user, deviceA, push)]);
      assert.deepEqual(a.accepted, b.accepted);
      assert.deepEqual(a.accepted.map((x) => x.seq), [1, 2, 3]);
      assert.equal(a.stored.length + b.stored.length, 3);
      assert.equal((await pullChanges(db(), user, 0, 100)).changes.length, 3);
      assert.equal((await logHead(db(), user)).seq, 3);
    });

    it('acknowledges a push mixing replays and new changes with original and next seqs', async () => {
      await appendChanges(db(), user, deviceA, [streamPut(1, '1:0'), streamPut(2, '2:0')]);
      const result = await appendChanges(db(), user, deviceA, [streamPut(3, '3:0'), streamPut(1, '1:0'), streamPut(4, '4:0')]);
      assert.deepEqual(result.accepted, [
        { clientSeq: 3, seq: 3 },
        { clientSeq: 1, seq: 1 },
        { clientSeq: 4, seq: 4 },
      ]);
      assert.deepEqual(result.stored.map((s) => [s.clientSeq, s.seq]), [[3, 3], [4, 4]]);
    });

    it('stores a new change numbered below the device\'s highest clientSeq and answers its replay', async () => {
      await appendChanges(db(), user, deviceA, [streamPut(5, '5:0')]);
      const lower = await appendChanges(db(), user, deviceA, [streamPut(2, '2:0'), streamPut(6, '6:0')]);
      assert.deepEqual(lower.accepted, [
        { clientSeq: 2, seq: 2 },
        { clientSeq: 6, seq: 3 },
      ]);
      const replay = await appendChanges(db(), user, deviceA, [streamPut(6, '6:0'), streamPut(2, '2:0'), streamPut(5, '5:0')]);
      assert.deepEqual(replay.accepted, [
        { clientSeq: 6, seq: 3 },
        { clientSeq: 2, seq: 2 },
        { clientSeq: 5, seq: 1 },
      ]);
      assert.deepEqual(replay.stored, []);
      assert.equal((await logHead(db(), user)).seq, 3);
    });

    it('keeps the log tied to existing users: a row of an unknown user is refused, a deleted user\'s changes go with it', async () => {
      const other = await insertUser(db());
      await appendChanges(db(), user, deviceA, [streamPut(1, '1:0'), streamPut(2, '2:0')]);
      await appendChanges(db(), other, deviceB, [streamPut(1, '1:0')]);
      const insert = (userId: string, seq: number) =>
        db().query(
          `INSERT INTO sync_operations (user_id, seq, device_id, client_seq, entity, change_type, body)
           VALUES ($1, $2, $3, $2, 'stream/roo-code/task-1/ui/9:0', 'stream.put', '{}')`,
          [userId, seq, deviceA],
        );
      const unknown = newDeviceId() as string; // any uuid no user has
      await assert.rejects(insert(unknown, 1), (err: unknown) =>
        isSyncError(err, 'DB_CONSTRAINT_VIOLATION') && err.details?.sqlState === '23503' && err.details?.constraint === 'sync_operations_user_id_fkey');
      await assert.rejects(db().query('UPDATE sync_operations SET user_id = $1 WHERE user_id = $2', [unknown, user]), (err: unknown) =>
        isSyncError(err, 'DB_CONSTRAINT_VIOLATION') && err.details?.sqlState === '23503');
      await db().query('DELETE FROM users WHERE id = $1', [user]);
      const left = await db().query<{ user_id: string }>('SELECT user_id FROM sync_operations');
      assert.deepEqual(left.rows.map((r) => r.user_id), [other]);
    });

    it('lets no reader see a gap while many appends run at once', async function () {
      this.timeout(60_000);
      const writers = 8;
      const perWriter = 10;
      const total = writers * perWriter;
      const devices = Array.from({ length: writers }, () => newDeviceId());
      const writing = Promise.all(
        devices.map(async (device) => {
          for (let i = 1; i <= perWriter; i++) await appendChanges(db(), user, device, [streamPut(i, `${i}:0`)]);
        }),
      );
      const seen: number[] = [];
      let cursor = 0;
      let done = false;
      void writing.finally(() => (done = true));
      while (seen.length < total) {
        const page = await pullChanges(db(), user, cursor, 7);
        for (const change of page.changes) {
          assert.equal(change.seq, cursor + 1, `reader jumped from ${cursor} to ${change.seq}`);
          cursor = change.seq;
          seen.push(change.seq);
        }
        if (done && page.changes.length === 0 && seen.length < total) assert.fail(`only ${seen.length} of ${total} seen`);
      }
      await writing;
      assert.equal(seen.length, total);
    });
  });

  describe('#appendPushes (several users in one statement)', () => {
    it('numbers each user\'s entry on its own log and answers each like appendChanges', async () => {
      const other = await insertUser(db());
      const third = await insertUser(db());
      await appendChanges(db(), other, deviceB, [streamPut(1, '1:0'), streamPut(2, '2:0')]);
      const results = await appendPushes(db(), [
        { userId: user, deviceId: deviceA, changes: [streamPut(1, '1:0'), streamPut(2, '2:0')] },
        { userId: third, deviceId: deviceA, changes: [] },
        { userId: other, deviceId: deviceB, changes: [streamPut(2, '2:0'), streamPut(3, '3:0')] },
      ]);
      assert.deepEqual(results[0]!.accepted, [{ clientSeq: 1, seq: 1 }, { clientSeq: 2, seq: 2 }]);
      assert.deepEqual(results[1], { accepted: [], conflicts: [], stored: [] });
      // The other user's entry: a replay with its original seq, then the next seq of its own log.
      assert.deepEqual(results[2]!.accepted, [{ clientSeq: 2, seq: 2 }, { clientSeq: 3, seq: 3 }]);
      assert.deepEqual(results[2]!.stored.map((c) => c.seq), [3]);
      assert.equal((await logHead(db(), user)).seq, 2);
      assert.equal((await logHead(db(), other)).seq, 3);
      assert.equal((await logHead(db(), third)).seq, 0);
    });

    it('reports a conflict in one entry and stores the other entries', async () => {
      const other = await insertUser(db());
      await appendChanges(db(), user, deviceA, [filePut(1, null, 'src/a.ts')]);
      const [stale, fine] = await appendPushes(db(), [
        { userId: user, deviceId: deviceB, changes: [streamPut(1, '1:0'), filePut(2, null, 'src/a.ts', 'c'.repeat(64)), streamPut(3, '3:0')] },
        { userId: other, deviceId: deviceA, changes: [filePut(1, null, 'src/a.ts')] },
      ]);
      assert.deepEqual(stale!.accepted, [{ clientSeq: 1, seq: 2 }, { clientSeq: 3, seq: 3 }]);
      assert.deepEqual(stale!.conflicts.map((c) => [c.clientSeq, c.current.seq, c.current.deviceId]), [[2, 1, deviceA]]);
      assert.deepEqual(fine!.accepted, [{ clientSeq: 1, seq: 1 }]);
      assert.deepEqual(fine!.conflicts, []);
    });

    it('refuses two entries of one user and a malformed entry before storing anything', async () => {
      const other = await insertUser(db());
      await assert.rejects(
        appendPushes(db(), [
          { userId: user, deviceId: deviceA, changes: [streamPut(1, '1:0')] },
          { userId: user, deviceId: deviceB, changes: [streamPut(1, '2:0')] },
        ]),
        /one entry per user/,
      );
      await assert.rejects(
        appendPushes(db(), [
          { userId: other, deviceId: deviceA, changes: [streamPut(1, '1:0')] },
          { userId: user, deviceId: deviceA, changes: [streamPut(0, '1:0')] },
        ]),
        (error: unknown) => isSyncError(error) && error.code === 'CHANGE_INVALID',
      );
      assert.equal((await logHead(db(), other)).seq, 0);
      assert.equal((await logHead(db(), user)).seq, 0);
    });

    it('never deadlocks when concurrent calls share users in opposite orders', async () => {
      const users = [user, await insertUser(db()), await insertUser(db()), await insertUser(db())];
      const calls = Array.from({ length: 8 }, (_, k) => {
        const order = k % 2 === 0 ? users : [...users].reverse();
        return appendPushes(db(), order.map((u) => ({ userId: u, deviceId: deviceA, changes: [streamPut(k + 1, `${k}:0`)] })));
      });
      await Promise.all(calls);
      for (const u of users) {
        const page = await pullChanges(db(), u, 0, 100);
        assert.deepEqual(page.changes.map((c) => c.seq), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert.deepEqual(page.changes.map((c) => c.clientSeq).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
      }
    });
  });

  describe('#pullChanges', () => {
    beforeEach(async () => {
      const changes = Array.from({ length: 25 }, (_, i) => streamPut(i + 1, `${i + 1}:0`));
      await appendChanges(db(), user, deviceA, changes);
    });

    it('pages through the log after the cursor', async () => {
      const collected: ServerChange[] = [];
      let cursor = 0;
      let pages = 0;
      for (;;) {
        const page = await pullChanges(db(), user, cursor, 10);
        pages++;
        collected.push(...page.changes);
        cursor = page.cursor;
        if (!page.hasMore) break;
      }
      assert.equal(pages, 3);
      assert.deepEqual(
        collected.map((c) => c.seq),
        Array.from({ length: 25 }, (_, i) => i + 1),
      );
      assert.equal(cursor, 25);
    });

    it('returns an empty page at the head and keeps the cursor', async () => {
      const page = await pullChanges(db(), user, 25, 10);
      assert.deepEqual(page, { changes: [], cursor: 25, hasMore: false });
    });

    it('says hasMore only when more changes exist', async () => {
      assert.equal((await pullChanges(db(), user, 15, 10)).hasMore, false);
      assert.equal((await pullChanges(db(), user, 14, 10)).hasMore, true);
    });

    it('never returns another user\'s changes', async () => {
      const other = await insertUser(db());
      const page = await pullChanges(db(), other, 0, 100);
      assert.deepEqual(page.changes, []);
    });

    it('rejects a bad cursor or limit with PULL_INVALID', async () => {
      for (const [cursor, limit] of [
        [-1, 10],
        [0, 0],
        [0, 1001],
        [0.5, 10],
      ] as const) {
        await assert.rejects(pullChanges(db(), user, cursor, limit), (err: unknown) => isSyncError(err, 'PULL_INVALID'));
      }
    });
  });

  describe('#pullStoredChanges and the pull reply written from it', () => {
    it('gives the same page as pullChanges, written as JSON from the stored bodies', async () => {
      // Bodies with text that needs escaping, a baseSeq, and unicode: the reply must keep them exact.
      await appendChanges(db(), user, deviceA, [
        streamPut(1, '1:0'),
        filePut(2, null, 'dir/naïve "quoted" file.txt'),
        taskMeta(3, null, { task: 'naïve — "quote" \n newline ✓' }, hlc(3)),
      ]);
      await appendChanges(db(), user, deviceB, [filePut(1, 2, 'dir/naïve "quoted" file.txt', 'b'.repeat(64))]);
      // One writer for every page, as the relay uses it: each reply must stand on its own.
      const writer = new Utf8Writer(16);
      for (const [cursor, limit] of [[0, 10], [1, 2], [4, 10]] as const) {
        const parsed = await pullChanges(db(), user, cursor, limit);
        const stored = await pullStoredChanges(db(), user, cursor, limit);
        const reply = JSON.parse(new TextDecoder().decode(writePullReply(writer, asRequestId('r-1'), stored)));
        assert.deepEqual(reply, { type: 'changes', replyTo: 'r-1', ...parsed });
        assert.equal(parseServerMessage(reply).type, 'changes');
      }
    });

    it('refuses a compacted cursor and bad limits like pullChanges', async () => {
      await appendChanges(db(), user, deviceA, [filePut(1, null, 'a.txt', '1'.repeat(64))]);
      await appendChanges(db(), user, deviceA, [filePut(2, 1, 'a.txt', '2'.repeat(64))]);
      await appendChanges(db(), user, deviceA, [filePut(3, 2, 'a.txt', '3'.repeat(64))]);
      await appendChanges(db(), user, deviceA, [filePut(4, null, 'b.txt')]);
      assert.equal((await compactLog(db(), user, new Date(Date.now() + 60_000))).compactedSeq, 2);
      await assert.rejects(pullStoredChanges(db(), user, 1, 10), (err: unknown) => isSyncError(err, 'CURSOR_COMPACTED'));
      await assert.rejects(pullStoredChanges(db(), user, 0, 0), (err: unknown) => isSyncError(err, 'PULL_INVALID'));
    });
  });

  describe('#compactLog', () => {
    const future = () => new Date(Date.now() + 60_000);

    it('keeps the latest change of every entity and records the compaction point', async () => {
      await appendChanges(db(), user, deviceA, [filePut(1, null, 'a.txt', '1'.repeat(64))]); // seq 1
      await appendChanges(db(), user, deviceA, [filePut(2, 1, 'a.txt', '2'.repeat(64))]); // seq 2
      await appendChanges(db(), user, deviceA, [filePut(3, null, 'b.txt')]); // seq 3
      await appendChanges(db(), user, deviceA, [filePut(4, 2, 'a.txt', '4'.repeat(64))]); // seq 4
      const result = await compactLog(db(), user, future());
      assert.deepEqual(result, { removed: 2, compactedSeq: 2 });
      const page = await pullChanges(db(), user, 0, 100);
      assert.deepEqual(
        page.changes.map((c) => c.seq),
        [3, 4],
      );
      const head = await logHead(db(), user);
      assert.equal(head.seq, 4);
      assert.equal(head.compactedSeq, 2);
      assert.ok(head.compactedAt instanceof Date);
    });

    it('removes an older version written in the same push as the newer one', async () => {
      await appendChanges(db(), user, deviceA, [
        filePut(1, null, 'a.txt', '1'.repeat(64)), // seq 1
        filePut(2, null, 'b.txt'), // seq 2
        filePut(3, null, 'a.txt', '3'.repeat(64)), // seq 3
      ]);
      const result = await compactLog(db(), user, future());
      assert.deepEqual(result, { removed: 1, compactedSeq: 1 });
      assert.deepEqual((await pullChanges(db(), user, 0, 100)).changes.map((c) => c.seq), [2, 3]);
    });

    it('leaves changes newer than olderThan alone', async () => {
      await appendChanges(db(), user, deviceA, [filePut(1, null, 'a.txt', '1'.repeat(64))]);
      await appendChanges(db(), user, deviceA, [filePut(2, 1, 'a.txt', '2'.repeat(64))]);
      const result = await compactLog(db(), user, new Date(Date.now() - 60_000));
      assert.deepEqual(result, { removed: 0, compactedSeq: 0 });
      assert.equal((await pullChanges(db(), user, 0, 10)).changes.length, 2);
    });

    it('makes a pull from a cursor behind the compaction point fail with CURSOR_COMPACTED', async () => {
      await appendChanges(db(), user, deviceA, [filePut(1, null, 'a.txt', '1'.repeat(64))]);
      await appendChanges(db(), user, deviceA, [filePut(2, 1, 'a.txt', '2'.repeat(64))]);
      await appendChanges(db(), user, deviceA, [filePut(3, 2, 'a.txt', '3'.repeat(64))]);
      await compactLog(db(), user, future());
      await assert.rejects(pullChanges(db(), user, 1, 10), (err: unknown) => isSyncError(err, 'CURSOR_COMPACTED'));
      assert.deepEqual(
        (await pullChanges(db(), user, 2, 10)).changes.map((c) => c.seq),
        [3],
      );
      assert.deepEqual(
        (await pullChanges(db(), user, 0, 10)).changes.map((c) => c.seq),
        [3],
      );
    });

    it('keeps every truncate, so entries an older truncate removed stay removed', async () => {
      const truncate = (clientSeq: number, afterKey: string): ClientChange => ({
        clientSeq,
        baseSeq: null,
        body: { type: 'stream.truncate', source: 'roo-code', taskId: asTaskId('task-1'), stream: 'ui', afterKey },
      });
      await appendChanges(db(), user, deviceA, [streamPut(1, '1:0'), streamPut(2, '5:0')]); // seq 1, 2
      await appendChanges(db(), user, deviceA, [truncate(3, '2:0')]); // seq 3 removes 5:0
      await appendChanges(db(), user, deviceA, [truncate(4, '8:0')]); // seq 4
      const result = await compactLog(db(), user, future());
      assert.equal(result.removed, 0);
      assert.deepEqual(
        (await pullChanges(db(), user, 0, 10)).changes.map((c) => c.seq),
        [1, 2, 3, 4],
      );
    });

    it('folds removed task metadata fields into the latest change', async () => {
      await appendChanges(db(), user, deviceA, [taskMeta(1, null, { title: 'first', tokensIn: 10 }, hlc(1))]);
      await appendChanges(db(), user, deviceA, [taskMeta(2, 1, { tokensIn: 20 }, hlc(2))]);
      await appendChanges(db(), user, deviceA, [taskMeta(3, 2, { cost: 0.5 }, hlc(3))]);
      const result = await compactLog(db(), user, future());
      assert.equal(result.removed, 2);
      const page = await pullChanges(db(), user, 0, 10);
      assert.equal(page.changes.length, 1);
      const body = page.changes[0]!.body as TaskMetaBody;
      assert.deepEqual(body.fields, { title: 'first', tokensIn: 20, cost: 0.5 });
      assert.deepEqual(body.clocks, { title: hlc(1), tokensIn: hlc(2), cost: hlc(3) });
    });

    it('acknowledges a late replay of a compacted change without storing it again', async () => {
      await appendChanges(db(), user, deviceA, [filePut(1, null, 'a.txt', '1'.repeat(64))]);
      await appendChanges(db(), user, deviceA, [filePut(2, 1, 'a.txt', '2'.repeat(64))]);
      await compactLog(db(), user, future());
      const replay = await appendChanges(db(), user, deviceA, [filePut(1, null, 'a.txt', '1'.repeat(64))]);
      assert.deepEqual(replay.stored, []);
      assert.deepEqual(replay.accepted, [{ clientSeq: 1, seq: 1 }]);
      assert.equal((await logHead(db(), user)).seq, 2);
    });
  });
}
