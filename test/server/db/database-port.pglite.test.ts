import { openTestPglite, usePgliteDatabase } from '../../support/pglite';
import { databasePortConformance } from './database-port.conformance';

describe('PgliteDatabase (Database port conformance)', () => {
  const db = usePgliteDatabase();

  databasePortConformance({
    shared: db,
    openExtra: (observer) => openTestPglite(observer),
  });
});
