import type { Database } from '../../../server/db/database';
import { PostgresDatabase } from '../../../server/db/postgres-database';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { databasePortConformance } from './database-port.conformance';

describe('PostgresDatabase (Database port conformance)', () => {
  let testDb: TestDatabase;
  let db: Database;
  before(async () => {
    testDb = await createTestDatabase();
    db = await PostgresDatabase.open({ url: testDb.url, pool: { max: 4 } });
  });
  after(async () => {
    await db?.close();
    await testDb?.drop();
  });

  databasePortConformance({
    shared: () => db,
    openExtra: (observer) => PostgresDatabase.open({ url: testDb.url, pool: { max: 2 }, ...observer }),
  });
});
