import { usePgliteDatabase } from '../../support/pglite';
import { taskMessagesSuite } from './task-messages.suite';

describe('GET /v1/tasks/:source/:taskId/messages (PGlite, in-process cache)', () => {
  const db = usePgliteDatabase();
  taskMessagesSuite({ db, flags: () => ({}) });
});
