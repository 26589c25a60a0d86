/**
 * roo-sync in a real extension host with sync off (the default): it activates on startup,
 * registers its commands, settings and view, shows "off", and its commands answer with coded
 * errors instead of doing anything. The Node side checks that no file was touched.
 */
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import { rooSync, rooSyncExtension, waitFor } from './roo-sync-api';

const PALETTE_COMMANDS = ['signIn', 'signOut', 'enableSync', 'disableSync', 'syncNow', 'showStatus', 'migrateLocalTasks', 'showConflicts', 'sendTaskToDevice', 'showLog'].map((c) => `roo-sync.${c}`);

describe('roo-sync activation (sync off by default)', () => {
  it('activates on startup finished, as a workspace extension', async () => {
    await rooSync();
    const manifest = rooSyncExtension().packageJSON as { activationEvents: string[]; extensionKind: string[]; engines: { vscode: string } };
    assert.deepEqual(manifest.activationEvents, ['onStartupFinished']);
    assert.deepEqual(manifest.extensionKind, ['workspace']);
    assert.equal(manifest.engines.vscode, '^1.100.0');
    assert.equal(rooSyncExtension().extensionKind, vscode.ExtensionKind.Workspace);
  });

  it('registers the ten palette commands in category roo-sync', async () => {
    await rooSync();
    const registered = new Set(await vscode.commands.getCommands(true));
    for (const id of PALETTE_COMMANDS) assert.ok(registered.has(id), `${id} is registered`);
    const contributed = (rooSyncExtension().packageJSON as { contributes: { commands: { command: string; category: string }[] } }).contributes.commands;
    for (const id of PALETTE_COMMANDS) assert.equal(contributed.find((c) => c.command === id)?.category, 'roo-sync', id);
  });

  it('declares its settings with sync off by default', () => {
    const config = vscode.workspace.getConfiguration('rooSync');
    const defaults: Record<string, unknown> = {
      serverUrl: '',
      enabled: false,
      sources: [],
      'workspaceSync.enabled': false,
      compressionThreshold: null,
      logLevel: 'info',
    };
    for (const [key, value] of Object.entries(defaults)) assert.deepEqual(config.inspect(key)?.defaultValue, value, key);
    assert.ok(Array.isArray(config.inspect('workspaceSync.include')?.defaultValue));
    assert.ok(Array.isArray(config.inspect('workspaceSync.exclude')?.defaultValue));
  });

  it('shows "off" in the status bar and the view', async () => {
    const api = await rooSync();
    assert.equal(api.status().kind, 'off');
    assert.match(api.testing.statusBar()?.text ?? '', /roo-sync: off/);
    // No row: the view shows its welcome content for rooSync.state == off (Sign In, Enable Sync).
    assert.deepEqual(api.testing.viewRoots(), []);
    await waitFor('the context keys', () => api.testing.contextKeys()['rooSync.state'] !== undefined);
    assert.deepEqual(api.testing.contextKeys(), { 'rooSync.state': 'off', 'rooSync.enabled': false, 'rooSync.signedIn': false });
  });

  it('answers commands that need sync with SYNC_DISABLED and does nothing', async () => {
    const api = await rooSync();
    assert.deepEqual(await vscode.commands.executeCommand('roo-sync.syncNow'), { error: { code: 'SYNC_DISABLED', message: 'sync is off (roo-sync: Enable Sync)' } });
    const sent = await vscode.commands.executeCommand<{ error?: { code: string } }>('roo-sync.sendTaskToDevice', { deviceId: 'x', text: 'y' });
    assert.equal(sent.error?.code, 'SYNC_DISABLED');
    assert.deepEqual(await vscode.commands.executeCommand('roo-sync.showStatus'), { state: 'off', text: 'off', details: ['not signed in', 'relay not set', 'sync is off on this computer'] });
    await vscode.commands.executeCommand('roo-sync.showLog');
    assert.equal(await api.testing.storedCredentials(), null);
  });

  it('has written nothing to its own storage', async () => {
    const api = await rooSync();
    // The folder VS Code gives roo-sync; created only when sync starts.
    const path = api.testing.globalStoragePath;
    assert.equal(existsSync(path), false, `${path} exists`);
  });
});
