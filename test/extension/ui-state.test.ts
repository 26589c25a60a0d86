/**
 * The words and buttons of the extension's notifications (ui-state.ts). Pure: no extension host
 * (command-feedback.test.ts checks what a host shows).
 */
import assert from 'node:assert/strict';
import { describeMigration, describeSyncNow, errorActions, offlineSignOutWarning } from '../../extension/ui-state';

describe('extension UI words (ui-state.ts)', () => {
  describe('errorActions', () => {
    it('offers Sign In and Show Log on AUTH_SIGNED_OUT, Enable Sync on SYNC_DISABLED, Show Log otherwise', () => {
      assert.deepEqual(errorActions('AUTH_SIGNED_OUT'), ['Sign In', 'Show Log']);
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
