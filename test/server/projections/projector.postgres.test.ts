import assert from 'node:assert/strict';
import { appendChanges, compactLog } from '../../../server/db/change-log';
import type { Database } from '../../../server/db/database';
import { migrate } from '../../../server/db/migrator';
import { projectBatch, projectUsers } from '../../../server/projections/project-batch';
import { listMessagesJson } from '../../../server/projections/read-model';
import { resetDatabase, usePostgresDatabase } from '../../support/postgres';
import { insertUser, newDeviceId, streamPut } from '../db/fixtures';
import { projectorSuite } from './projector.suite';

describe('read-model projector (PostgreSQL)', () => {
  const db = usePostgresDatabase();
  before(async () => {
    await migrate(db());
  });
  beforeEach(async () => {
    await resetDatabase(db());
  });
  projectorSuite({ db });

  it('compaction waits for a projector batch in flight, so it never removes a put the batch is about to name', async () => {
    // Found by review: keys 1..5, then key 3 again, so seq 3 is superseded. A batch reading
    // seq 1..5 names seq 3 for key 3; a compaction that did not wait for it removed seq 3, and
    // the messages route lost key 3 (and stopped paging there) until the projector moved on.
    const user = await insertUser(db());
    const device = newDeviceId();
    await appendChanges(db(), user, device, ['1', '2', '3', '4', '5'].map((k, i) => streamPut(i + 1, `${k}:0`)));
    await appendChanges(db(), user, device, [streamPut(6, '3:0', { text: 'v2' })]);
    await db().query('INSERT INTO read_model_cursors (user_id) VALUES ($1)', [user]); // projected before
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const beforeCommit = new Promise<void>((resolve) => (reached = resolve));
    const held: Database = Object.assign(Object.create(Object.getPrototypeOf(db()) as object) as Database, db(), {
      transaction: <T>(fn: (tx: Parameters<Parameters<Database['transaction']>[0]>[0]) => Promise<T>) =>
        db().transaction(async (tx) => {
          const result = await fn(tx);
          reached();
          await gate;
          return result;
        }),
    });
    const projecting = projectBatch(held, user, { limit: 5 });
    await beforeCommit;
    let compacted = false;
    const compacting = compactLog(db(), user, new Date(Date.now() + 60_000)).finally(() => (compacted = true));
    // Once the compaction waits for the batch's cursor row (or, wrongly, has finished), let the batch commit.
    await waitForLockWait(db(), () => compacted);
    release();
    await projecting;
    assert.equal((await compacting).removed, 0, 'seq 3 is named by the read model once the batch commits');
    const { rows: [conv] } = await db().query<{ id: string }>('SELECT id FROM conversations WHERE user_id = $1', [user]);
    const keys: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = JSON.parse(await listMessagesJson(db(), conv!.id, { stream: 'ui', limit: 2, ...(before ? { before } : {}) })) as { messages: Array<{ key: string }>; nextBefore?: string };
      keys.push(...page.messages.map((m) => m.key));
      if (!page.nextBefore) break;
      before = page.nextBefore;
    }
    assert.deepEqual(keys, ['5:0', '4:0', '3:0', '2:0', '1:0']);
  });

  it('pages on past a message whose log change is gone, leaves it out and reports it', async () => {
    const user = await insertUser(db());
    await appendChanges(db(), user, newDeviceId(), ['1', '2', '3', '4'].map((k, i) => streamPut(i + 1, `${k}:0`)));
    await projectBatch(db(), user);
    await db().query('DELETE FROM sync_operations WHERE user_id = $1 AND seq = 3', [user]); // as no relay does
    const { rows: [conv] } = await db().query<{ id: string }>('SELECT id FROM conversations WHERE user_id = $1', [user]);
    const reported: string[] = [];
    const first = JSON.parse(await listMessagesJson(db(), conv!.id, { stream: 'ui', limit: 2 }, { onMissing: (k) => reported.push(...k) })) as { messages: Array<{ key: string }>; nextBefore?: string };
    assert.deepEqual([first.messages.map((m) => m.key), first.nextBefore], [['4:0'], '3:0']);
    const second = JSON.parse(await listMessagesJson(db(), conv!.id, { stream: 'ui', limit: 2, before: '3:0' })) as { messages: Array<{ key: string }>; nextBefore?: string };
    assert.deepEqual([second.messages.map((m) => m.key), second.nextBefore], [['2:0', '1:0'], undefined]);
    assert.deepEqual(reported, ['3:0']);
  });

  it('skips a user whose cursor row another projector holds instead of waiting, and projects once it is free', async () => {
    const user = await insertUser(db());
    await appendChanges(db(), user, newDeviceId(), [streamPut(1, '1:0'), streamPut(2, '2:0')]);
    await db().query('INSERT INTO read_model_cursors (user_id) VALUES ($1)', [user]);
    await db().transaction(async (tx) => {
      await tx.query('SELECT 1 FROM read_model_cursors WHERE user_id = $1 FOR UPDATE', [user]);
      assert.deepEqual(await projectBatch(db(), user), { status: 'locked' });
    });
    const outcome = await projectBatch(db(), user);
    assert.equal(outcome.status, 'projected');
    assert.equal(outcome.status === 'projected' && outcome.rows, 2);
  });

  it('skips a locked user among several projected together and projects the others', async () => {
    const users = [await insertUser(db()), await insertUser(db()), await insertUser(db())];
    const device = newDeviceId();
    for (const u of users) await appendChanges(db(), u, device, [streamPut(1, '1:0'), streamPut(2, '2:0'), streamPut(3, '3:0')]);
    const [free1, held, free2] = [users[0]!, users[1]!, users[2]!];
    await db().query('INSERT INTO read_model_cursors (user_id) VALUES ($1)', [held]);
    const cursor = async (u: string) =>
      Number((await db().query<{ seq: string }>('SELECT seq FROM read_model_cursors WHERE user_id = $1', [u])).rows[0]?.seq ?? -1);
    const messages = async (u: string) => Number((await db().query<{ n: string }>(
      'SELECT count(*) AS n FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.user_id = $1', [u])).rows[0]!.n);
    await db().transaction(async (tx) => {
      // The second connection: another projector holding `held`'s cursor row.
      await tx.query('SELECT 1 FROM read_model_cursors WHERE user_id = $1 FOR UPDATE', [held]);
      const outcomes = await projectUsers(db(), users);
      assert.deepEqual(outcomes.get(held), { status: 'locked' });
      for (const u of [free1, free2]) {
        const o = outcomes.get(u);
        assert.deepEqual(o?.status === 'projected' && [o.rows, o.cursor, o.more], [3, 3, false]);
      }
    });
    assert.deepEqual([await cursor(free1), await cursor(held), await cursor(free2)], [3, 0, 3]);
    assert.deepEqual([await messages(free1), await messages(held), await messages(free2)], [3, 0, 3]);
    const retried = await projectUsers(db(), users);
    assert.deepEqual([...retried.values()].map((o) => o.status === 'projected' && o.rows), [0, 3, 0]);
    assert.deepEqual([await cursor(held), await messages(held)], [3, 3]);
  });
});

/** Resolves once some session of this database waits for a lock, or `done()` holds (checked every few ms; the mocha timeout bounds it). */
async function waitForLockWait(db: Database, done: () => boolean): Promise<void> {
  while (!done()) {
    const { rows } = await db.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
    if (Number(rows[0]!.n) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
