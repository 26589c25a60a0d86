import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, symlink, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../../core/errors';
import { asWorkspaceId } from '../../../core/ids';
import { FsWorkspaceFiles } from '../../../core/node/storage/fs-workspace-files';

describe('FsWorkspaceFiles', () => {
  let dir: string;
  let files: FsWorkspaceFiles;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roo-ws-'));
    await mkdir(join(dir, 'root'));
    files = new FsWorkspaceFiles({ workspaceId: asWorkspaceId('w'), root: join(dir, 'root') });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('#write', () => {
    it('writes atomically with the given mode and mtime, creating folders', async () => {
      await files.write('src/deep/a.sh', new TextEncoder().encode('echo hi\n'), { mode: 0o755, mtime: 1_700_000_000_000 });
      const info = await stat(join(dir, 'root', 'src', 'deep', 'a.sh'));
      assert.equal(info.mode & 0o777, 0o755);
      assert.equal(Math.round(info.mtimeMs), 1_700_000_000_000);
      assert.equal(new TextDecoder().decode((await files.read('src/deep/a.sh'))!), 'echo hi\n');
      assert.deepEqual((await files.list()).map((f) => [f.path, f.size, f.mode]), [['src/deep/a.sh', 8, 0o755]]);
      assert.equal((await files.stat('src/deep/a.sh'))?.mode, 0o755);
      assert.equal(await files.stat('src/none.sh'), null);
    });

    it('refuses a path that leaves the root, also through a symlink', async () => {
      await symlink(dir, join(dir, 'root', 'out'));
      await assert.rejects(files.write('../x', new Uint8Array(1), { mode: 0o644, mtime: 1 }), (err: unknown) => isSyncError(err, 'PATH_TRAVERSAL'));
      await assert.rejects(files.write('out/x', new Uint8Array(1), { mode: 0o644, mtime: 1 }), (err: unknown) => isSyncError(err, 'PATH_ESCAPES_ROOT'));
    });
  });

  describe('#read / #remove', () => {
    it('reads null for a missing file and removes idempotently', async () => {
      assert.equal(await files.read('nope.txt'), null);
      await files.write('a.txt', new Uint8Array([1]), { mode: 0o644, mtime: 1000 });
      await files.remove('a.txt');
      await files.remove('a.txt');
      assert.equal(await files.read('a.txt'), null);
      assert.deepEqual(await files.list(), []);
    });
  });
});
