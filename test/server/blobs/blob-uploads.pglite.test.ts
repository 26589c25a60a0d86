import { usePgliteDatabase } from '../../support/pglite';
import { blobUploadSuite } from './blob-uploads.suite';

describe('resumable blob uploads (PGlite, in-process cache)', () => {
  const db = usePgliteDatabase();
  blobUploadSuite({ db, flags: () => ({}) });
});
