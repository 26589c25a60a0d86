import assert from 'node:assert/strict';
import { appendChanges } from '../../../server/db/change-log';
import { migrate } from '../../../server/db/migrator';
import { projectBatch } from '../../../server/projections/project-batch';
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
});
