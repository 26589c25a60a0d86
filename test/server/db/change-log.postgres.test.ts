import type { Database } from '../../../server/db/database';
import { migrate } from '../../../server/db/migrator';
import { PostgresDatabase } from '../../../server/db/postgres-database';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { changeLogSuite } from './change-log.suite';

describe('change log on PostgreSQL', () => {
  let testDb: TestDatabase;
  let db: Database;
  before(async () => {
    testDb = await createTestDatabase();
    db = await PostgresDatabase.open({ url: testDb.url, pool: { max: 10 } });
    await migrate(db);
  });
  after(async () => {
    await db?.close();
    await testDb?.drop();
  });

  changeLogSuite(() => db);
});
