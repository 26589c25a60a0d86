/**
 * The sync status in words (Show Sync Status, the status bar's tooltip) in a real extension host
 * against a real relay (PGlite): with `rooSync.sources` limiting sync to an assistant whose store
 * is not here, it names the setting instead of saying no assistant's tasks are here.
 */
import * as assert from 'node:assert/strict';
import { createUser } from '../../server/accounts/users';
import { PASSWORD, usePgliteRelay } from '../server/http/relay-fixture';
import { useExtensionHosts } from './support/host-session';
import { waitFor } from './support/wait';

const EMAIL = 'sync-status@example.com';

describe('roo-sync status in a real extension host', function () {
  this.timeout(180_000);
  const relay = usePgliteRelay();
  const hosts = useExtensionHosts();

  it('names the rooSync.sources filter when it leaves no store to sync (sources = cline, only a Roo Code store here)', async () => {
    await createUser(relay.db(), { email: EMAIL, password: PASSWORD });
    const host = await hosts.startDriven('sources-filter');
    await host.fixture('getCurrentTaskStack'); // the fixture (Roo Code) creates its store folder
    await host.call('setting', 'rooSync.sources', ['cline']);
    const signedIn = await host.command<{ deviceId?: string }>('roo-sync.signIn', { serverUrl: relay.relay().url, email: EMAIL, password: PASSWORD, deviceName: 'sources filter' });
    assert.ok(signedIn.deviceId, JSON.stringify(signedIn));
    await host.command('roo-sync.enableSync');
    const status = await waitFor('the device to sync', async () => {
      const s = await host.call<{ device: { state: string; stores: unknown[] } | null; bar: { tooltip: string } }>('status');
      return s.device?.state === 'synced' ? s : null;
    });
    assert.deepEqual(status.device!.stores, [], 'the Roo Code store is not synced');
    const wanted = 'synced, no Cline task store here (rooSync.sources limits sync to cline)';
    assert.equal((await host.command<{ text: string }>('roo-sync.showStatus')).text, wanted);
    assert.equal(status.bar.tooltip, `roo-sync: ${wanted} as ${EMAIL}`);
  });
});
