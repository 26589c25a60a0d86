/** The protocol conformance suite against the real relay on its embedded default: PGlite and in-process pub/sub. */
import { migrate } from '../../../server/db/migrator';
import { runProtocolConformance } from '../../conformance/protocol-conformance';
import { openTestPglite } from '../../support/pglite';
import { conformanceEnv, startRelayUnderTest } from '../../support/relay-under-test';

runProtocolConformance('relay (startRelayServer) on PGlite with in-process pub/sub', async (options) => {
  const db = await openTestPglite();
  await migrate(db);
  return startRelayUnderTest(conformanceEnv(options), { db }, () => db.close());
});
