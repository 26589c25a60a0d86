import { usePgliteDatabase } from '../../support/pglite';
import { migratorSuite } from './migrator.suite';

describe('migrator on PGlite', () => {
  const db = usePgliteDatabase();

  migratorSuite(db);
});
