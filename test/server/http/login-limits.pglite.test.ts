import type { PgliteDatabase } from '../../../server/db/pglite-database';
import { openTestPglite } from '../../support/pglite';
import { loginLimitsSuite } from './login-limits.suite';

describe('login rate limit over HTTP (PGlite, in-process cache)', () => {
  let db: PgliteDatabase;
  before(async () => {
    db = await openTestPglite();
  });
  after(async () => {
    await db?.close();
  });
  loginLimitsSuite({ db: () => db, flags: () => ({}) });
});
