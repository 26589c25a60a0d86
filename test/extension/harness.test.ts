/**
 * The extension-host harness itself: a missing code-server or Chromium fails with the install
 * command (never a skip), and stopping a server ends its whole process group.
 */
import * as assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeServerBinary, INSTALL_COMMAND, startCodeServer } from './support/code-server';
import { chromiumPath } from './support/workbench';

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

describe('extension-host harness', function () {
  this.timeout(60_000);

  describe('codeServerBinary', () => {
    it('throws with the install command when code-server is not installed', () => {
      assert.throws(() => codeServerBinary({ ROO_SYNC_CODE_SERVER_DIR: '/nonexistent/roo-sync-code-server' }), (error: Error) => error.message.includes(INSTALL_COMMAND));
    });
  });

  describe('chromiumPath', () => {
    it('throws with the install command when Chromium is missing', () => {
      assert.throws(() => chromiumPath({ ROO_SYNC_CHROMIUM: '/nonexistent/chromium' }), (error: Error) => error.message.includes(INSTALL_COMMAND));
    });
  });

  describe('startCodeServer', () => {
    it('serves on 127.0.0.1 and stop() ends its whole process group, twice without error', async () => {
      const runDir = await mkdtemp(join(tmpdir(), 'roo-sync-cs-'));
      try {
        const server = await startCodeServer({ runDir });
        assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
        const health = await fetch(`${server.url}/healthz`);
        assert.equal(health.status, 200);
        assert.ok(groupAlive(server.pid));
        await server.stop();
        await server.stop();
        assert.equal(groupAlive(server.pid), false);
      } finally {
        await rm(runDir, { recursive: true, force: true });
      }
    });
  });
});
