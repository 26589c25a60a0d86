import type { PgliteDatabase } from '../../../server/db/pglite-database';
import { openTestPglite } from '../../support/pglite';
import { blobUploadSuite } from './blob-uploads.suite';

describe('resumable blob uploads (PGlite, in-process cache)', () => {
  let db: PgliteDatabase;
  before(async () => {
    db = await openTestPglite();
  });
  after(async () => {
    await db?.close();
  });
  blobUploadSuite({ db: () => db, flags: () => ({}) });
});
