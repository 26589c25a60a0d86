/**
 * `npx roo-sync` right after `npm install`, with no build: a fresh `git clone` of this
 * repository (no dist/) with its node_modules in place runs `npx roo-sync --help`. The
 * installed node_modules are linked in rather than installed again, so the test needs no
 * network; npm runs offline to make sure it never reaches for the registry. Regression: the
 * bin was dist/cli.js, which exists only after `npm run build`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/cli-bin-process';

const run = promisify(execFile);

describe('npx roo-sync on a fresh clone', function () {
  this.timeout(120_000);
  let dir: string;
  let clone: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'roo-clone-'));
    clone = join(dir, 'roo-sync');
    await run('git', ['clone', '--quiet', '--no-hardlinks', REPO_ROOT, clone]);
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the commands and exits 0 with no dist/ (no build step)', async () => {
    assert.ok(!existsSync(join(clone, 'dist')), 'the clone has no build output');
    const env: Record<string, string> = { ...(process.env as Record<string, string>), npm_config_offline: 'true', npm_config_update_notifier: 'false' };
    delete env.npm_config_prefix;
    const { stdout } = await run('npx', ['roo-sync', '--help'], { cwd: clone, env });
    assert.match(stdout, /^Usage: roo-sync /m);
    for (const command of ['server', 'db', 'user', 'device']) assert.match(stdout, new RegExp(`^  ${command}\\b`, 'm'), command);
  });
});
