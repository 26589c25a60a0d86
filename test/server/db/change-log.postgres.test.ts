import { usePostgresDatabase } from '../../support/postgres';
import { changeLogSuite } from './change-log.suite';

describe('change log on PostgreSQL', () => {
  changeLogSuite(usePostgresDatabase({ poolMax: 10, migrated: true }));
});
