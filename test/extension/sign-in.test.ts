/**
 * Sign In / Sign Out of roo-sync in a real extension host against a real relay (PGlite): the
 * device is registered and then revoked on the relay, and its refresh token is nowhere in the
 * user-data folder (settings, the logs of the output channel; the host suite checks globalState and workspaceState).
 */
import * as assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createUser } from '../../server/accounts/users';
import { PASSWORD, usePgliteRelay } from '../server/http/relay-fixture';
import { useExtensionHosts } from './support/host-session';

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out;
}

describe('roo-sync sign-in in a real extension host', function () {
  this.timeout(180_000);
  const relay = usePgliteRelay();
  const hosts = useExtensionHosts();

  it('keeps the tokens in SecretStorage only and revokes the device at sign-out', async () => {
    const email = 'ext-sign-in@example.com';
    await createUser(relay.db(), { email, password: PASSWORD });
    const server = await hosts.startServer('sign-in');
    const secretsOut = join(server.runDir, 'secrets.json');
    await hosts.run(server, { suites: ['sign-in.host-test'], params: { serverUrl: relay.relay().url, email, password: PASSWORD, secretsOut } });

    const { deviceId, refreshToken } = JSON.parse(await readFile(secretsOut, 'utf8')) as { deviceId: string; refreshToken: string };
    const { rows } = await relay.db().query<{ revoked_at: Date | null }>('SELECT revoked_at FROM devices WHERE id = $1', [deviceId]);
    assert.equal(rows.length, 1, 'the device was registered');
    assert.notEqual(rows[0]!.revoked_at, null, 'and revoked at sign-out');

    const files = await filesUnder(server.userDataDir);
    const logs = files.filter((f) => f.startsWith(join(server.userDataDir, 'logs')) && basename(f).endsWith('-roo-sync.log'));
    assert.ok(logs.length > 0, `the output channel's log file is among the files searched: ${files.filter((f) => f.includes('logs')).join(', ')}`);
    // Machine-scoped settings of a remote (code-server) window live in Machine/settings.json.
    const settings = await readFile(join(server.userDataDir, 'Machine', 'settings.json'), 'utf8');
    assert.match(settings, /"rooSync\.serverUrl": "http:\/\/127\.0\.0\.1:\d+"/);
    assert.match(await readFile(logs[0]!, 'utf8'), /\[info\] signed in to http:\/\/127\.0\.0\.1:\d+ as ext-sign-in@example\.com/);
    for (const file of files) {
      const content = await readFile(file);
      assert.equal(content.includes(refreshToken), false, `the refresh token is in ${file}`);
      assert.equal(content.includes(PASSWORD), false, `the password is in ${file}`);
    }
  });
});
