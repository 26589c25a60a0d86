import type { PgliteDatabase } from '../../../server/db/pglite-database';
import { openTestPglite } from '../../support/pglite';
import { taskRoutesSuite } from './task-routes.suite';

describe('relay task routes (PGlite, in-process cache)', () => {
  let db: PgliteDatabase;
  before(async () => {
    db = await openTestPglite();
  });
  after(async () => {
    await db?.close();
  });
  taskRoutesSuite({ db: () => db, flags: () => ({}) });
});
