/**
 * Sign In and Sign Out through roo-sync's commands against the real relay the Node side started
 * (`serverUrl`, `email`, `password` params). The credentials land in SecretStorage only; the
 * Node side then searches the user-data folder (settings, globalState, logs) for the token.
 */
import * as assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { hostParam } from './host-params';
import { rooSync, waitFor } from './roo-sync-api';

describe('roo-sync sign-in (real relay)', () => {
  it('signs in through the command, keeps the credentials in SecretStorage and the URL in settings', async () => {
    const api = await rooSync();
    const serverUrl = hostParam('serverUrl');
    const result = await vscode.commands.executeCommand<{ deviceId?: string; error?: unknown }>('roo-sync.signIn', { serverUrl, email: hostParam('email'), password: hostParam('password'), deviceName: 'code-server test' });
    assert.equal(result.error, undefined, JSON.stringify(result.error));
    const creds = await api.testing.storedCredentials();
    assert.ok(creds, 'credentials are stored');
    assert.equal(creds.deviceId, result.deviceId);
    assert.equal(creds.email, hostParam('email'));
    assert.ok(creds.refreshToken.length > 20);
    assert.equal(vscode.workspace.getConfiguration('rooSync').get('serverUrl'), serverUrl);
    assert.equal(api.testing.mementos().includes(creds.refreshToken), false, 'not in globalState or workspaceState');
    // Sync is still off: signing in alone starts nothing.
    assert.equal(api.status().kind, 'off');
    await writeFile(hostParam('secretsOut'), JSON.stringify({ deviceId: creds.deviceId, refreshToken: creds.refreshToken }));
  });

  it('keeps the device signed in when a second sign-in fails (the old one is replaced only by a new one that worked)', async () => {
    const api = await rooSync();
    const before = await api.testing.storedCredentials();
    assert.ok(before, 'signed in by the test before');
    for (const attempt of [{ password: 'not the password' }, { serverUrl: 'http://127.0.0.1:9' }]) {
      const result = await vscode.commands.executeCommand<{ error?: { code: string } }>('roo-sync.signIn', { serverUrl: hostParam('serverUrl'), email: hostParam('email'), password: hostParam('password'), ...attempt });
      assert.ok(result.error, `the sign-in with ${JSON.stringify(attempt)} failed`);
      const after = await api.testing.storedCredentials();
      assert.equal(after?.deviceId, before.deviceId, 'still the same device');
    }
  });

  it('replacing a device whose relay cannot be reached signs in at once and says the old device stays registered', async () => {
    const api = await rooSync();
    // Signed in through the proxy (a device on that URL), then the proxy goes away for good.
    const viaProxy = await vscode.commands.executeCommand<{ deviceId?: string; error?: unknown }>('roo-sync.signIn', { serverUrl: hostParam('proxyUrl'), email: hostParam('email'), password: hostParam('password'), deviceName: 'via the proxy' });
    assert.equal(viaProxy.error, undefined, JSON.stringify(viaProxy.error));
    await api.testing.controller.replacedDeviceRevoked();
    await writeFile(hostParam('proxyClosedMarker'), '');
    await waitFor('the proxy to close', async () => (await fetch(hostParam('proxyUrl')).then(() => false, () => true)));
    const direct = await vscode.commands.executeCommand<{ deviceId?: string; error?: unknown }>('roo-sync.signIn', { serverUrl: hostParam('serverUrl'), email: hostParam('email'), password: hostParam('password'), deviceName: 'code-server test' });
    assert.equal(direct.error, undefined, JSON.stringify(direct.error));
    assert.equal((await api.testing.storedCredentials())?.deviceId, direct.deviceId, 'signed in as the new device');
    await api.testing.controller.replacedDeviceRevoked();
    const warning = api.testing.notices().find((n) => n.level === 'warning' && n.text.includes('"via the proxy"'));
    assert.ok(warning, `a warning names the old device: ${JSON.stringify(api.testing.notices())}`);
    assert.match(warning.text, /could not be signed out \[RELAY_UNREACHABLE\].*Devices view.*roo-sync devices sign-out "via the proxy"/);
  });

  it('signs out through the command: revoked on the relay, forgotten here', async () => {
    const api = await rooSync();
    const result = await vscode.commands.executeCommand('roo-sync.signOut');
    assert.deepEqual(result, { signedIn: true, revoked: true });
    assert.equal(await api.testing.storedCredentials(), null);
  });

  it('answers a wrong password with AUTH_INVALID_CREDENTIALS and stores nothing', async () => {
    const api = await rooSync();
    const result = await vscode.commands.executeCommand<{ error?: { code: string } }>('roo-sync.signIn', { serverUrl: hostParam('serverUrl'), email: hostParam('email'), password: 'not the password' });
    assert.equal(result.error?.code, 'AUTH_INVALID_CREDENTIALS');
    assert.equal(await api.testing.storedCredentials(), null);
  });
});
