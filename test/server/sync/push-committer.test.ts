/**
 * The relay's group commit (server/sync/push-committer.ts) on real PostgreSQL: pushes that
 * arrive while a call is in flight share the next call; results, order and errors per push.
 */
import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import type { Database, Queryable } from '../../../server/db/database';
import { logHead, pullChanges } from '../../../server/db/change-log';
import { PushCommitter } from '../../../server/sync/push-committer';
import { createTestDatabase, resetDatabase, usePostgresDatabase } from '../../support/postgres';
import { migrate } from '../../../server/db/migrator';
import { PostgresDatabase } from '../../../server/db/postgres-database';
import { insertUser, newDeviceId, streamPut } from '../db/fixtures';
import { asUserId } from '../../../core/ids';

/** Counts the push statements sent through it. */
function counting(db: Queryable): Queryable & { pushCalls: number } {
  const counter = {
    pushCalls: 0,
    query: ((sql: string, params?: readonly unknown[]) => {
      if (sql.includes('sync_push_batch')) counter.pushCalls++;
      return db.query(sql, params);
    }) as Queryable['query'],
  };
  return counter;
}

describe('PushCommitter (group commit) on PostgreSQL', () => {
  const database = usePostgresDatabase({ poolMax: 4, migrated: true });
  let db: Database;
  beforeEach(async () => {
    db = database();
    await resetDatabase(db);
  });

  it('commits the pushes of many users that arrive during a call in one further call', async () => {
    const users = await Promise.all(Array.from({ length: 40 }, () => insertUser(db)));
    const device = newDeviceId();
    const conn = counting(db);
    const committer = new PushCommitter(conn, { maxInFlight: 1 });
    const results = await Promise.all(users.map((u, i) => committer.commit(u, device, [streamPut(1, `${i}:0`), streamPut(2, `${i}:1`)])));
    // The first push goes alone (nothing was in flight), the 39 that waited share one call.
    assert.equal(conn.pushCalls, 2);
    for (const [i, result] of results.entries()) {
      assert.deepEqual(result.accepted, [{ clientSeq: 1, seq: 1 }, { clientSeq: 2, seq: 2 }]);
      assert.deepEqual(result.stored.map((c) => c.entity), [`stream/roo-code/task-1/ui/${i}:0`, `stream/roo-code/task-1/ui/${i}:1`]);
      assert.equal((await logHead(db, users[i]!)).seq, 2);
    }
    assert.equal(committer.waiting, 0);
  });

  it('puts one user\'s pushes in separate calls, in the order they came', async () => {
    const user = await insertUser(db);
    const [a, b] = [newDeviceId(), newDeviceId()];
    const conn = counting(db);
    const committer = new PushCommitter(conn, { maxInFlight: 2 });
    const first = committer.commit(user, a, [streamPut(1, '1:0')]);
    const second = committer.commit(user, b, [streamPut(1, '2:0')]);
    const third = committer.commit(user, a, [streamPut(2, '3:0')]);
    assert.deepEqual((await first).accepted, [{ clientSeq: 1, seq: 1 }]);
    assert.deepEqual((await second).accepted, [{ clientSeq: 1, seq: 2 }]);
    assert.deepEqual((await third).accepted, [{ clientSeq: 2, seq: 3 }]);
    assert.equal(conn.pushCalls, 3);
  });

  it('answers a replay of a push committed in an earlier call with its original seqs', async () => {
    const [user, other] = [await insertUser(db), await insertUser(db)];
    const device = newDeviceId();
    const committer = new PushCommitter(db, { maxInFlight: 1 });
    const push = [streamPut(1, '1:0'), streamPut(2, '2:0')];
    await committer.commit(user, device, push);
    const [replay, fresh] = await Promise.all([committer.commit(user, device, [...push, streamPut(3, '3:0')]), committer.commit(other, device, push)]);
    assert.deepEqual(replay.accepted, [{ clientSeq: 1, seq: 1 }, { clientSeq: 2, seq: 2 }, { clientSeq: 3, seq: 3 }]);
    assert.deepEqual(replay.stored.map((c) => c.seq), [3]);
    assert.deepEqual(fresh.accepted.map((a) => a.seq), [1, 2]);
    assert.equal((await pullChanges(db, user, 0, 10)).changes.length, 3);
  });

  it('refuses a malformed push alone and stores the others', async () => {
    const [user, other] = [await insertUser(db), await insertUser(db)];
    const committer = new PushCommitter(db, { maxInFlight: 1 });
    const [bad, good] = await Promise.allSettled([
      committer.commit(user, newDeviceId(), [streamPut(0, '1:0')]),
      committer.commit(other, newDeviceId(), [streamPut(1, '1:0')]),
    ]);
    assert.ok(bad.status === 'rejected' && isSyncError(bad.reason) && bad.reason.code === 'CHANGE_INVALID');
    assert.ok(good.status === 'fulfilled');
    assert.deepEqual(good.value.accepted, [{ clientSeq: 1, seq: 1 }]);
  });

  it('retries a failed call push by push, so only the push that failed it gets the error', async () => {
    const users = [await insertUser(db), await insertUser(db)];
    const unknown = asUserId('00000000-0000-4000-8000-000000000001');
    const committer = new PushCommitter(db, { maxInFlight: 1 });
    // The first call takes users[0] alone; the unknown user's push (no users row: the log's
    // foreign key refuses it) and users[1]'s wait and share the second call, which fails.
    const results = await Promise.allSettled([
      committer.commit(users[0]!, newDeviceId(), [streamPut(1, '1:0')]),
      committer.commit(unknown, newDeviceId(), [streamPut(1, '1:0')]),
      committer.commit(users[1]!, newDeviceId(), [streamPut(1, '1:0')]),
    ]);
    assert.equal(results[0]!.status, 'fulfilled');
    assert.ok(results[1]!.status === 'rejected' && isSyncError(results[1]!.reason));
    assert.ok(results[2]!.status === 'fulfilled');
    assert.deepEqual(results[2]!.value.accepted, [{ clientSeq: 1, seq: 1 }]);
  });

  it('fails every waiting push with DB_CLOSED once the database is closed, without a retry per push', async () => {
    const scratch = await createTestDatabase();
    const closed = await PostgresDatabase.open({ url: scratch.url, pool: { max: 2 } });
    try {
      await migrate(closed);
      const users = [await insertUser(closed), await insertUser(closed)];
      await closed.close();
      const conn = counting(closed);
      const committer = new PushCommitter(conn, { maxInFlight: 1 });
      const results = await Promise.allSettled(users.concat(users.map(() => users[0]!)).map((u) => committer.commit(u, newDeviceId(), [streamPut(1, '1:0')])));
      for (const result of results) assert.ok(result.status === 'rejected' && isSyncError(result.reason) && result.reason.code === 'DB_CLOSED');
      // Calls: [u0], then [u1, u0] (one entry per user), then [u0]; none retried per push.
      assert.equal(conn.pushCalls, 3);
    } finally {
      await scratch.drop();
    }
  });
});
