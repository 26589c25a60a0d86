import type { Database } from '../../../server/db/database';
import { openTestPglite } from '../../support/pglite';
import { migratorSuite } from './migrator.suite';

describe('migrator on PGlite', () => {
  let db: Database;
  before(async () => {
    db = await openTestPglite();
  });
  after(async () => {
    await db?.close();
  });

  migratorSuite(() => db);
});
