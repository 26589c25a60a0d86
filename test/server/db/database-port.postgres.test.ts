import { PostgresDatabase } from '../../../server/db/postgres-database';
import { usePostgresDatabase } from '../../support/postgres';
import { databasePortConformance } from './database-port.conformance';

describe('PostgresDatabase (Database port conformance)', () => {
  const db = usePostgresDatabase({ poolMax: 4 });

  databasePortConformance({
    shared: db,
    openExtra: (observer) => PostgresDatabase.open({ url: db.url(), pool: { max: 2 }, ...observer }),
  });
});
