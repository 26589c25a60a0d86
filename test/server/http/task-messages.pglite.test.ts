import { openTestPglite } from '../../support/pglite';
import type { PgliteDatabase } from '../../../server/db/pglite-database';
import { taskMessagesSuite } from './task-messages.suite';

describe('GET /v1/tasks/:source/:taskId/messages (PGlite, in-process cache)', () => {
  let db: PgliteDatabase;
  before(async () => {
    db = await openTestPglite();
  });
  after(async () => {
    await db?.close();
  });
  taskMessagesSuite({ db: () => db, flags: () => ({}) });
});
