import type { Database } from '../../../server/db/database';
import { openTestPglite } from '../../support/pglite';
import { databasePortConformance } from './database-port.conformance';

describe('PgliteDatabase (Database port conformance)', () => {
  let db: Database;
  before(async () => {
    db = await openTestPglite();
  });
  after(async () => {
    await db?.close();
  });

  databasePortConformance({
    shared: () => db,
    openExtra: (observer) => openTestPglite(observer),
  });
});
