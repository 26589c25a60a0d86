import { useMigratedPglite } from '../../support/pglite';
import { projectorSuite } from './projector.suite';

describe('read-model projector (PGlite)', () => {
  const db = useMigratedPglite();
  projectorSuite({ db });
});
