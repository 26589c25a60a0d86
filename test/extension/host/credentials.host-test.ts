/**
 * Damaged credentials in SecretStorage (CREDENTIALS_UNREADABLE, whose fix is to sign in again)
 * and the hand-edited rooSync.serverUrl, in a real extension host against the relay the Node
 * side started (`serverUrl`, `email`, `password` params).
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { hostParam } from './host-params';
import { rooSync, waitFor } from './roo-sync-api';

const KEY = 'roo-sync.deviceCredentials';
const DAMAGED = '{ not json';

async function secrets(): Promise<vscode.SecretStorage> {
  return ((await rooSync()).testing.controller.credentials as unknown as { secrets: vscode.SecretStorage }).secrets;
}

const settings = () => vscode.workspace.getConfiguration('rooSync');

describe('roo-sync with damaged credentials and a hand-edited server URL', () => {
  after(async () => {
    await settings().update('enabled', false, vscode.ConfigurationTarget.Global);
    await (await secrets()).delete(KEY);
  });

  it('does not take the same relay written with capitals for another one; warns for another', async () => {
    const api = await rooSync();
    await (await secrets()).store(KEY, JSON.stringify({ serverUrl: 'http://sync.example.test:9', userId: 'u1', email: 'a@example.com', deviceId: 'd1', deviceName: 'desk (VS Code)', refreshToken: 'x'.repeat(40), refreshTokenExpiresAt: Date.now() + 86_400_000 }));
    const seen = api.testing.notices().length;
    await settings().update('serverUrl', 'http://Sync.Example.test:9', vscode.ConfigurationTarget.Global);
    await settings().update('serverUrl', 'http://other.example.test:9', vscode.ConfigurationTarget.Global);
    await waitFor('the warning for the other relay', () => api.testing.notices().slice(seen).some((n) => n.text.includes('other.example.test')));
    const warned = api.testing.notices().slice(seen).filter((n) => n.text.includes('rooSync.serverUrl is now'));
    assert.deepEqual(warned.map((n) => n.text.includes('other.example.test')), [true], JSON.stringify(warned));
    await (await secrets()).delete(KEY);
  });

  it('with sync on, shows the error and offers Sign In instead of looking off', async () => {
    const api = await rooSync();
    await (await secrets()).store(KEY, DAMAGED);
    await settings().update('enabled', true, vscode.ConfigurationTarget.Global);
    await waitFor('the error state', () => api.testing.contextKeys()['rooSync.state'] === 'error');
    assert.equal(api.testing.contextKeys()['rooSync.enabled'], true);
    assert.equal(api.status().kind, 'error');
    // Off again: the next tests change the stored credentials, which a running device would rewrite under them.
    await settings().update('enabled', false, vscode.ConfigurationTarget.Global);
    await waitFor('sync off', () => api.testing.contextKeys()['rooSync.state'] === 'off');
  });

  it('Sign In replaces damaged credentials', async () => {
    const api = await rooSync();
    await (await secrets()).store(KEY, DAMAGED);
    const result = await vscode.commands.executeCommand<{ deviceId?: string; error?: unknown }>('roo-sync.signIn', { serverUrl: hostParam('serverUrl'), email: hostParam('email'), password: hostParam('password'), deviceName: 'replaces damaged' });
    assert.equal(result.error, undefined, JSON.stringify(result.error));
    assert.equal((await api.testing.storedCredentials())?.deviceId, result.deviceId);
  });

  it('Sign Out forgets damaged credentials', async () => {
    const api = await rooSync();
    await (await secrets()).store(KEY, DAMAGED);
    const seen = api.testing.notices().length;
    const result = await vscode.commands.executeCommand<{ revoked?: boolean; error?: { code: string } }>('roo-sync.signOut');
    assert.deepEqual(result, { signedIn: true, revoked: false }, JSON.stringify(result));
    assert.equal(await api.testing.storedCredentials(), null, 'forgotten');
    const warning = api.testing.notices().slice(seen).find((n) => n.level === 'warning');
    assert.ok(warning?.text.includes('CREDENTIALS_UNREADABLE'), `the warning says why the relay was not told: ${JSON.stringify(api.testing.notices().slice(seen))}`);
  });
});
