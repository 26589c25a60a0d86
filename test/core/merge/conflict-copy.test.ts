import assert from 'node:assert/strict';
import { conflictCopyPath, isConflictCopy } from '../../../core/merge/conflict-copy';

const at = new Date(Date.UTC(2026, 10, 26, 7, 5, 9));

describe('conflictCopyPath', () => {
  it('puts the marker, UTC time and device before the extension', () => {
    assert.equal(conflictCopyPath('src/app.ts', at, 'laptop'), 'src/app.sync-conflict-20261126-070509-laptop.ts');
    assert.equal(conflictCopyPath('a/b/archive.tar.gz', at, 'pc'), 'a/b/archive.tar.sync-conflict-20261126-070509-pc.gz');
  });

  it('handles names without an extension and dotfiles', () => {
    assert.equal(conflictCopyPath('Makefile', at, 'd1'), 'Makefile.sync-conflict-20261126-070509-d1');
    assert.equal(conflictCopyPath('cfg/.env', at, 'd1'), 'cfg/.env.sync-conflict-20261126-070509-d1');
  });

  it('reduces the device id to safe file-name characters', () => {
    assert.equal(conflictCopyPath('x.md', at, 'my laptop/2.0'), 'x.sync-conflict-20261126-070509-my_laptop_2_0.md');
  });

  it('names every copy as a conflict copy', () => {
    for (const path of ['src/app.ts', 'Makefile', '.env', 'a/archive.tar.gz', 'notes v2.md']) {
      assert.equal(isConflictCopy(conflictCopyPath(path, at, 'dev-9')), true, path);
    }
  });
});

describe('isConflictCopy', () => {
  it('does not match ordinary files', () => {
    assert.equal(isConflictCopy('src/sync-conflict.ts'), false);
    assert.equal(isConflictCopy('x.sync-conflict-2026-dev.md'), false);
    assert.equal(isConflictCopy('dir.sync-conflict-20261126-070509-d/file.ts'), false);
  });
});
