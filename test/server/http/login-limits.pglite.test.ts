import { usePgliteDatabase } from '../../support/pglite';
import { loginLimitsSuite } from './login-limits.suite';

describe('login rate limit over HTTP (PGlite, in-process cache)', () => {
  const db = usePgliteDatabase();
  loginLimitsSuite({ db, flags: () => ({}) });
});
