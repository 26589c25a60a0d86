import type { PgliteDatabase } from '../../../server/db/pglite-database';
import { openTestPglite } from '../../support/pglite';
import { relayHttpSuite } from './relay-http.suite';

describe('relay HTTP API (PGlite, in-process cache)', () => {
  let db: PgliteDatabase;
  before(async () => {
    db = await openTestPglite();
  });
  after(async () => {
    await db?.close();
  });
  relayHttpSuite({ db: () => db, flags: () => ({}) });
});
