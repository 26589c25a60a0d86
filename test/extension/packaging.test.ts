/**
 * The packaged extension (`npm run package`, vsce): the .vsix carries the users' README
 * (extension/README.md), which VS Code shows on the extension's details page, and not the
 * repository's README (tests, benchmarks, relay internals).
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { strFromU8, unzipSync } from 'fflate';
import { REPO_ROOT } from './support/build';

describe('roo-sync packaging (npm run package)', function () {
  this.timeout(180_000);
  let dir: string;
  let files: Record<string, Uint8Array>;

  before(async function () {
    this.timeout(180_000);
    dir = await mkdtemp(join(tmpdir(), 'roo-sync-vsix-'));
    const vsix = join(dir, 'roo-sync.vsix');
    await promisify(execFile)('npm', ['run', 'package', '--', '--out', vsix], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
    files = unzipSync(new Uint8Array(await readFile(vsix)));
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("carries the users' README (extension/README.md) as its details page, not the repository's", async () => {
    const readmes = Object.keys(files).filter((name) => /readme/i.test(name));
    assert.deepEqual(readmes, ['extension/readme.md']);
    const shipped = strFromU8(files['extension/readme.md']!);
    assert.equal(shipped, await readFile(join(REPO_ROOT, 'extension', 'README.md'), 'utf8'));
    const repoReadme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
    assert.notEqual(shipped, repoReadme);
    assert.doesNotMatch(shipped, /npm test|npm run bench|PGlite/, 'nothing of the repository README (tests, benchmarks, relay internals)');
    assert.match(strFromU8(files['extension.vsixmanifest']!), /Type="Microsoft\.VisualStudio\.Services\.Content\.Details" Path="extension\/readme\.md"/);
  });

  it('ships only the manifest, the bundles, LICENSE, the README and the error-code reference', () => {
    assert.deepEqual(Object.keys(files).filter((name) => name.startsWith('extension/')).sort(), [
      'extension/LICENSE.txt',
      'extension/dist/device-worker.js',
      'extension/dist/extension.js',
      'extension/docs/errors.md',
      'extension/package.json',
      'extension/readme.md',
    ]);
  });
});
