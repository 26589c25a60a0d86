import assert from 'node:assert/strict';
import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../../core/errors';
import { resolveInsideWorkspace } from '../../../core/node/paths/resolve-inside';

async function refusedWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => isSyncError(err, code));
}

describe('resolveInsideWorkspace', () => {
  let base: string;
  let root: string;
  let outside: string;

  beforeEach(async () => {
    base = await realpath(await mkdtemp(join(tmpdir(), 'roo-sync-paths-')));
    root = join(base, 'workspace');
    outside = join(base, 'outside');
    await mkdir(join(root, 'src'), { recursive: true });
    await mkdir(outside);
    await writeFile(join(root, 'src', 'app.ts'), 'x');
    await writeFile(join(outside, 'secret.txt'), 'secret');
  });

  afterEach(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it('resolves an existing file inside the root', async () => {
    assert.equal(await resolveInsideWorkspace(root, 'src/app.ts'), join(root, 'src', 'app.ts'));
  });

  it('resolves a file that does not exist yet, in directories that do not exist yet', async () => {
    assert.equal(await resolveInsideWorkspace(root, 'new/dir/file.md'), join(root, 'new', 'dir', 'file.md'));
  });

  it('follows a symlink that stays inside the root', async () => {
    await symlink(join(root, 'src'), join(root, 'lib'));
    assert.equal(await resolveInsideWorkspace(root, 'lib/app.ts'), join(root, 'src', 'app.ts'));
  });

  it('resolves through a symlinked root', async () => {
    const linkRoot = join(base, 'root-link');
    await symlink(root, linkRoot);
    assert.equal(await resolveInsideWorkspace(linkRoot, 'src/app.ts'), join(root, 'src', 'app.ts'));
  });

  it('refuses a directory symlink that leads outside with PATH_ESCAPES_ROOT', async () => {
    await symlink(outside, join(root, 'escape'));
    await refusedWith(resolveInsideWorkspace(root, 'escape/secret.txt'), 'PATH_ESCAPES_ROOT');
    await refusedWith(resolveInsideWorkspace(root, 'escape/not-yet/new.txt'), 'PATH_ESCAPES_ROOT');
  });

  it('refuses a file symlink to a file outside', async () => {
    await symlink(join(outside, 'secret.txt'), join(root, 'src', 'innocent.txt'));
    await refusedWith(resolveInsideWorkspace(root, 'src/innocent.txt'), 'PATH_ESCAPES_ROOT');
  });

  it('refuses a relative symlink climbing out', async () => {
    await symlink('../../outside', join(root, 'src', 'up'));
    await refusedWith(resolveInsideWorkspace(root, 'src/up/secret.txt'), 'PATH_ESCAPES_ROOT');
  });

  it('refuses a dangling symlink whose target would be created outside', async () => {
    await symlink(join(outside, 'created-by-write.txt'), join(root, 'dangling.txt'));
    await refusedWith(resolveInsideWorkspace(root, 'dangling.txt'), 'PATH_ESCAPES_ROOT');
  });

  it('refuses a symlink loop', async () => {
    await symlink(join(root, 'loop-b'), join(root, 'loop-a'));
    await symlink(join(root, 'loop-a'), join(root, 'loop-b'));
    await refusedWith(resolveInsideWorkspace(root, 'loop-a/x'), 'PATH_ESCAPES_ROOT');
  });

  it('refuses .., absolute and drive paths before touching the disk', async () => {
    await refusedWith(resolveInsideWorkspace(root, '../outside/secret.txt'), 'PATH_TRAVERSAL');
    await refusedWith(resolveInsideWorkspace(root, join(outside, 'secret.txt')), 'PATH_ABSOLUTE');
    await refusedWith(resolveInsideWorkspace(root, 'C:\\x'), 'PATH_DRIVE_PREFIX');
  });

  it('refuses a missing root with PATH_ROOT_MISSING', async () => {
    await refusedWith(resolveInsideWorkspace(join(base, 'nope'), 'a.txt'), 'PATH_ROOT_MISSING');
  });
});
