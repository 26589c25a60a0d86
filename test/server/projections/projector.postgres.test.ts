import assert from 'node:assert/strict';
import { appendChanges } from '../../../server/db/change-log';
import { migrate } from '../../../server/db/migrator';
import { projectBatch, projectUsers } from '../../../server/projections/project-batch';
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
