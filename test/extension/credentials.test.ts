/**
 * Damaged credentials in SecretStorage and a hand-edited rooSync.serverUrl, in a real extension
 * host against a real relay (PGlite): see host/credentials.host-test.ts.
 */
import { createUser } from '../../server/accounts/users';
import { PASSWORD, usePgliteRelay } from '../server/http/relay-fixture';
import { useExtensionHosts } from './support/host-session';

describe('roo-sync credentials and server URL in a real extension host', function () {
  this.timeout(180_000);
  const relay = usePgliteRelay();
  const hosts = useExtensionHosts();

  it('recovers from damaged credentials (error state, Sign In replaces them, Sign Out forgets them) and warns only for another relay', async () => {
    const email = 'ext-credentials@example.com';
    await createUser(relay.db(), { email, password: PASSWORD });
    const server = await hosts.startServer('credentials');
    await hosts.run(server, { suites: ['credentials.host-test'], params: { serverUrl: relay.relay().url, email, password: PASSWORD } });
  });
});
