import type { Database } from '../../../server/db/database';
import { migrate } from '../../../server/db/migrator';
import { openTestPglite } from '../../support/pglite';
import { changeLogSuite } from './change-log.suite';

describe('change log on PGlite', () => {
  let db: Database;
  before(async () => {
    db = await openTestPglite();
    await migrate(db);
  });
  after(async () => {
    await db?.close();
  });

  changeLogSuite(() => db);
});
