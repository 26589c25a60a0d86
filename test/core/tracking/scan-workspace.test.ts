import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../../core/errors';
import { sha256Hex } from '../../../core/model/hash';
import { isIgnoredByDefault, scanWorkspace } from '../../../core/node/tracking/scan-workspace';

describe('scanWorkspace', () => {
  let root: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'roo-scan-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const put = async (rel: string, content: string | Uint8Array, mode?: number) => {
    await mkdir(join(root, rel, '..'), { recursive: true });
    await writeFile(join(root, rel), content, mode === undefined ? undefined : { mode });
  };

  it('lists files with hash, size, mode and mtime, by relative path in order', async () => {
    await put('src/b.ts', 'export const b = 1;\n');
    await put('a.md', '# A\n');
    await put('bin/run.sh', '#!/bin/sh\n', 0o755);
    const scan = await scanWorkspace(root);
    assert.deepEqual([...scan.keys()], ['a.md', 'bin/run.sh', 'src/b.ts']);
    const entry = scan.get('src/b.ts')!;
    const info = await stat(join(root, 'src/b.ts'));
    assert.deepEqual(entry, {
      path: 'src/b.ts',
      hash: sha256Hex('export const b = 1;\n'),
      size: 20,
      mode: info.mode & 0o777,
      mtime: info.mtimeMs,
      binary: false,
    });
    assert.equal(scan.get('bin/run.sh')!.mode, 0o755);
  });

  it('leaves out .git, node_modules, conflict copies, ignored paths and symlinks', async () => {
    await put('.git/config', 'x');
    await put('pkg/node_modules/dep/index.js', 'x');
    await put('notes.sync-conflict-20260101-120000-dev1.md', 'x');
    await put('dist/out.js', 'x');
    await put('keep.ts', 'x');
    await symlink(join(root, 'keep.ts'), join(root, 'link.ts'));
    const scan = await scanWorkspace(root, { ignore: (rel) => rel === 'dist' });
    assert.deepEqual([...scan.keys()], ['keep.ts']);
  });

  it('marks files with a NUL byte or invalid UTF-8 near the start as binary', async () => {
    await put('image.png', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
    await put('latin1.txt', new Uint8Array([0x63, 0x61, 0x66, 0xe9]));
    await put('utf8.txt', 'café ✓\n');
    // A 3-byte character cut by the 8 KB sniff limit is still text.
    await put('long.txt', 'a'.repeat(8191) + '✓' + 'b'.repeat(100));
    await put('late-nul.txt', 'a'.repeat(9000) + '\u0000');
    const scan = await scanWorkspace(root);
    assert.equal(scan.get('image.png')!.binary, true);
    assert.equal(scan.get('latin1.txt')!.binary, true);
    assert.equal(scan.get('utf8.txt')!.binary, false);
    assert.equal(scan.get('long.txt')!.binary, false);
    assert.equal(scan.get('late-nul.txt')!.binary, false);
  });

  it('reuses the previous hash while size and mtime are unchanged, and hashes again when they change', async () => {
    await put('a.txt', 'one');
    const first = await scanWorkspace(root);
    const stale = new Map(first);
    stale.set('a.txt', { ...first.get('a.txt')!, hash: 'f'.repeat(64) });
    assert.equal((await scanWorkspace(root, { previous: stale })).get('a.txt')!.hash, 'f'.repeat(64));
    await utimes(join(root, 'a.txt'), new Date(), new Date(Date.now() + 5000));
    assert.equal((await scanWorkspace(root, { previous: stale })).get('a.txt')!.hash, sha256Hex('one'));
  });

  it('hashes files larger than one read chunk', async () => {
    const big = new Uint8Array(3 * 1024 * 1024 + 17).fill(0x61);
    await put('big.txt', big);
    const entry = (await scanWorkspace(root)).get('big.txt')!;
    assert.equal(entry.hash, sha256Hex(big));
    assert.equal(entry.size, big.length);
  });

  it('refuses a missing root with WORKSPACE_ROOT_MISSING', async () => {
    await assert.rejects(scanWorkspace(join(root, 'nope')), (err) => isSyncError(err, 'WORKSPACE_ROOT_MISSING'));
    await put('file.txt', 'x');
    await assert.rejects(scanWorkspace(join(root, 'file.txt')), (err) => isSyncError(err, 'WORKSPACE_ROOT_MISSING'));
  });
});

describe('isIgnoredByDefault', () => {
  it('matches .git and node_modules at any depth and conflict copies', () => {
    assert.equal(isIgnoredByDefault('.git'), true);
    assert.equal(isIgnoredByDefault('a/node_modules/x.js'), true);
    assert.equal(isIgnoredByDefault('docs/plan.sync-conflict-20260102-030405-laptop.md'), true);
    assert.equal(isIgnoredByDefault('src/.gitignore'), false);
    assert.equal(isIgnoredByDefault('src/git/node.ts'), false);
  });
});
