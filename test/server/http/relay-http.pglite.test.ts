import { usePgliteDatabase } from '../../support/pglite';
import { relayHttpSuite } from './relay-http.suite';

describe('relay HTTP API (PGlite, in-process cache)', () => {
  const db = usePgliteDatabase();
  relayHttpSuite({ db, flags: () => ({}) });
});
