import { migrate } from '../../../server/db/migrator';
import { usePgliteDatabase } from '../../support/pglite';
import { changeLogSuite } from './change-log.suite';

describe('change log on PGlite', () => {
  const db = usePgliteDatabase();
  before(async () => {
    await migrate(db());
  });

  changeLogSuite(db);
});
