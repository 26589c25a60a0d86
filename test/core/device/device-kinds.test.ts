import * as assert from 'node:assert/strict';
import { canRunTasks } from '../../../core/device/device-kinds';

describe('device-kinds', () => {
  describe('canRunTasks', () => {
    it('is true for a VS Code device (the extension runs the assistant)', () => {
      assert.equal(canRunTasks({ kind: 'vscode', revokedAt: null }), true);
    });

    it('is false for the roo-sync CLI, which syncs tasks but cannot run them', () => {
      assert.equal(canRunTasks({ kind: 'cli', revokedAt: null }), false);
    });

    it('is false for a browser, an unknown kind and a device with no kind', () => {
      for (const kind of ['web', 'browser', 'mobile', 'server', 'other', null]) assert.equal(canRunTasks({ kind }), false, String(kind));
    });

    it('is false for a revoked VS Code device', () => {
      assert.equal(canRunTasks({ kind: 'vscode', revokedAt: '2026-12-01T00:00:00.000Z' }), false);
    });
  });
});
