import { usePgliteDatabase } from '../../support/pglite';
import { taskRoutesSuite } from './task-routes.suite';

describe('relay task routes (PGlite, in-process cache)', () => {
  const db = usePgliteDatabase();
  taskRoutesSuite({ db, flags: () => ({}) });
});
