/**
 * What the extension's manifest shows in each state (the command palette's and the views
 * welcome's `when` clauses over the context keys ui-state.ts defines), and the words and buttons
 * of its notifications. Pure: no extension host (command-feedback.test.ts checks the keys are set).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeMigration, describeSyncNow, errorActions, offlineSignOutWarning, UI_CONTEXT_KEYS, type UiContext } from '../../extension/ui-state';

interface Manifest {
  contributes: {
    commands: { command: string }[];
    menus: { commandPalette: { command: string; when: string }[] };
    viewsWelcome?: { view: string; contents: string; when: string }[];
  };
}

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as Manifest;

/**
 * Evaluates the subset of VS Code's when-clause grammar the manifest uses: `a || b`, `a && b`,
 * `!key`, `key == value`, `key != value`, a bare key, `true`/`false`. Any other form fails the test.
 */
function evaluate(when: string, context: UiContext): boolean {
  const keys = context as unknown as Record<string, unknown>;
  return when.split('||').some((any) =>
    any.split('&&').every((raw) => {
      const term = raw.trim();
      if (term === 'true' || term === 'false') return term === 'true';
      const eq = /^([\w.]+)\s*(==|!=)\s*([\w.-]+)$/.exec(term);
      if (eq) return (String(keys[eq[1]!]) === eq[3]) === (eq[2] === '==');
      const key = /^(!?)([\w.]+)$/.exec(term);
      if (!key) throw new Error(`when clause term not understood by this test: ${term}`);
      return Boolean(keys[key[2]!]) !== (key[1] === '!');
    }),
  );
}

const PALETTE = ['signIn', 'signOut', 'enableSync', 'disableSync', 'syncNow', 'showStatus', 'migrateLocalTasks', 'showConflicts', 'sendTaskToDevice', 'showLog'].map((c) => `roo-sync.${c}`);

function palette(context: UiContext): string[] {
  const whens = new Map(manifest.contributes.menus.commandPalette.map((m) => [m.command, m.when]));
  return PALETTE.filter((id) => {
    const when = whens.get(id);
    return when === undefined || evaluate(when, context);
  });
}

function welcome(context: UiContext): string[] {
  return (manifest.contributes.viewsWelcome ?? []).filter((w) => w.view === 'roo-sync' && evaluate(w.when, context)).map((w) => w.contents);
}

const OFF_NEW: UiContext = { 'rooSync.state': 'off', 'rooSync.enabled': false, 'rooSync.signedIn': false };
const OFF_SIGNED_IN: UiContext = { 'rooSync.state': 'off', 'rooSync.enabled': false, 'rooSync.signedIn': true };
const ON_SIGNED_OUT: UiContext = { 'rooSync.state': 'signedOut', 'rooSync.enabled': true, 'rooSync.signedIn': false };
const SYNCING: UiContext = { 'rooSync.state': 'syncing', 'rooSync.enabled': true, 'rooSync.signedIn': true };

describe('extension UI state (package.json when clauses over ui-state.ts)', () => {
  describe('command palette', () => {
    it('reads only the context keys the extension sets', () => {
      for (const { when } of manifest.contributes.menus.commandPalette) {
        const keys = when.match(/rooSync\.[\w.]+/g) ?? [];
        for (const key of keys) assert.ok((UI_CONTEXT_KEYS as readonly string[]).includes(key) || key === 'rooSync.conflictDiffOpen', `${when} reads ${key}`);
      }
    });

    it('hides Sign Out while signed out, Disable Sync while off, and what needs a device until it syncs', () => {
      assert.deepEqual(palette(OFF_NEW), ['roo-sync.signIn', 'roo-sync.enableSync', 'roo-sync.showStatus', 'roo-sync.showLog']);
      assert.deepEqual(palette(OFF_SIGNED_IN), ['roo-sync.signIn', 'roo-sync.signOut', 'roo-sync.enableSync', 'roo-sync.showStatus', 'roo-sync.showLog']);
      assert.deepEqual(palette(ON_SIGNED_OUT), ['roo-sync.signIn', 'roo-sync.disableSync', 'roo-sync.showStatus', 'roo-sync.showLog']);
      assert.deepEqual(palette(SYNCING), PALETTE.filter((id) => id !== 'roo-sync.enableSync'));
    });

    it('while another window (or roo-sync sync) has the stores, hides what only a syncing device can do; in error, keeps Sign In', () => {
      const following: UiContext = { ...SYNCING, 'rooSync.state': 'following' };
      assert.deepEqual(palette(following), ['roo-sync.signIn', 'roo-sync.signOut', 'roo-sync.disableSync', 'roo-sync.showStatus', 'roo-sync.showLog']);
      const error: UiContext = { ...SYNCING, 'rooSync.state': 'error', 'rooSync.signedIn': false };
      assert.ok(palette(error).includes('roo-sync.signIn'));
    });
  });

  describe('views welcome', () => {
    it('offers Sign In and Enable Sync as command links when off and signed out', () => {
      const [contents, ...more] = welcome(OFF_NEW);
      assert.deepEqual(more, []);
      assert.match(contents!, /\[Sign In\]\(command:roo-sync\.signIn\)/);
      assert.match(contents!, /\[Enable Sync\]\(command:roo-sync\.enableSync\)/);
    });

    it('offers Enable Sync only when off and signed in', () => {
      const shown = welcome(OFF_SIGNED_IN);
      assert.equal(shown.length, 1);
      assert.match(shown[0]!, /\[Enable Sync\]\(command:roo-sync\.enableSync\)/);
      assert.doesNotMatch(shown[0]!, /command:roo-sync\.signIn/);
    });

    it('offers Sign In when sync is on and signed out, and nothing while syncing (the tree shows the devices)', () => {
      const shown = welcome(ON_SIGNED_OUT);
      assert.equal(shown.length, 1);
      assert.match(shown[0]!, /\[Sign In\]\(command:roo-sync\.signIn\)/);
      assert.deepEqual(welcome(SYNCING), []);
    });

    it('links only to contributed commands', () => {
      const contributed = new Set(manifest.contributes.commands.map((c) => c.command));
      for (const w of manifest.contributes.viewsWelcome ?? []) {
        for (const [, id] of w.contents.matchAll(/\(command:([\w.-]+)\)/g)) assert.ok(contributed.has(id!), id);
      }
    });
  });

  describe('errorActions', () => {
    it('offers Sign In and Show Log on AUTH_SIGNED_OUT, Enable Sync on SYNC_DISABLED, Show Log otherwise', () => {
      assert.deepEqual(errorActions('AUTH_SIGNED_OUT'), ['Sign In', 'Show Log']);
      // Every code whose fix docs/errors.md says is to sign in again.
      for (const code of ['AUTH_FORBIDDEN', 'AUTH_REFRESH_REUSED', 'AUTH_INVALID_CREDENTIALS', 'CREDENTIALS_UNREADABLE', 'CLIENT_TOKEN_UNAVAILABLE']) assert.deepEqual(errorActions(code), ['Sign In', 'Show Log'], code);
      assert.deepEqual(errorActions('SYNC_DISABLED'), ['Enable Sync', 'Show Log']);
      assert.deepEqual(errorActions('STORAGE_SYNC_FAILED'), ['Show Log']);
    });
  });

  describe('result words', () => {
    it('says what Sync Now sent and received', () => {
      assert.equal(describeSyncNow({ sent: 1, received: 3, unreadable: 0 }), 'synced: sent 1 change, received 3 changes');
      assert.equal(describeSyncNow({ sent: 0, received: 0, unreadable: 2 }), 'synced: sent 0 changes, received 0 changes; 2 tasks could not be read (see the log)');
    });

    it('tells a migration that uploaded from one the relay already had', () => {
      assert.equal(describeMigration({ tasks: 4, accepted: 0, aborted: false, upToDate: true, unreadable: 0 }), 'migration done: the relay already had all 4 tasks; nothing uploaded.');
      assert.equal(describeMigration({ tasks: 4, accepted: 9, aborted: false, upToDate: false, unreadable: 0 }), 'migration done: 4 tasks checked, 9 changes uploaded.');
      assert.match(describeMigration({ tasks: 4, accepted: 2, aborted: true, upToDate: false, unreadable: 0 }), /stopped .* run it again to resume/);
    });

    it('names the web page and the CLI command that sign the device out when the relay could not be told', () => {
      const text = offlineSignOutWarning('RELAY_UNREACHABLE', 'desk (VS Code)');
      assert.match(text, /RELAY_UNREACHABLE/);
      assert.match(text, /web page's Devices view \(Sign out\)/);
      assert.match(text, /roo-sync devices sign-out "desk \(VS Code\)"/);
      assert.doesNotMatch(text, /revoke this device from another one/);
    });
  });
});
