import { usePgliteDatabase } from '../../support/pglite';
import { syncDeviceSuite } from './sync-device.suite';

describe('SyncDevice on a real relay (PGlite, in-process cache)', () => {
  const db = usePgliteDatabase();
  syncDeviceSuite({ db, flags: () => ({}) });
});
