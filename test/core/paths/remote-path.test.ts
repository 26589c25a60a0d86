import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import { isNormalisedRemotePath, normaliseRemotePath } from '../../../core/paths/remote-path';

function refusedWith(path: string, code: string): void {
  assert.throws(
    () => normaliseRemotePath(path),
    (err: unknown) => isSyncError(err, code),
    `${JSON.stringify(path)} should be refused with ${code}`,
  );
}

describe('normaliseRemotePath', () => {
  it('returns normal relative paths unchanged', () => {
    for (const path of ['a.txt', 'src/app.ts', 'docs/old notes.md', 'a/b/c/d.e.f', '.github/workflows/ci.yml', 'ünïcode/файл.md', '..foo/bar', 'a..b']) {
      assert.equal(normaliseRemotePath(path), path);
      assert.ok(isNormalisedRemotePath(path));
    }
  });

  it('collapses ., empty segments, trailing slashes and backslashes', () => {
    assert.equal(normaliseRemotePath('./src//app.ts'), 'src/app.ts');
    assert.equal(normaliseRemotePath('src/./lib/'), 'src/lib');
    assert.equal(normaliseRemotePath('src\\lib\\x.ts'), 'src/lib/x.ts');
    assert.equal(isNormalisedRemotePath('./a'), false);
  });

  it('refuses .. anywhere with PATH_TRAVERSAL', () => {
    for (const path of ['..', '../x', 'a/../b', 'a/..', '..\\x', 'a\\..\\..\\b', 'a/.../b', 'a/.. /b', 'a/. ./b']) {
      refusedWith(path, 'PATH_TRAVERSAL');
    }
  });

  it('refuses absolute paths with PATH_ABSOLUTE', () => {
    for (const path of ['/etc/passwd', '\\Windows\\system32', '/']) refusedWith(path, 'PATH_ABSOLUTE');
  });

  it('refuses drive and UNC prefixes with PATH_DRIVE_PREFIX', () => {
    for (const path of ['C:\\x', 'c:/x', 'C:', 'd:relative', '\\\\server\\share\\x', '//server/share', '\\\\?\\C:\\x']) {
      refusedWith(path, 'PATH_DRIVE_PREFIX');
    }
  });

  it('refuses NUL with PATH_NUL and other control characters with PATH_INVALID', () => {
    refusedWith('a\u0000b', 'PATH_NUL');
    refusedWith('a\nb', 'PATH_INVALID');
    refusedWith('a\u007fb', 'PATH_INVALID');
  });

  it('refuses empty paths with PATH_EMPTY', () => {
    for (const path of ['', '.', './', './/.', '.\\.']) refusedWith(path, 'PATH_EMPTY');
  });

  it('refuses over-long paths and segments with PATH_INVALID', () => {
    refusedWith('a/'.repeat(3000), 'PATH_INVALID');
    refusedWith(`${'x'.repeat(256)}/y`, 'PATH_INVALID');
    refusedWith(42 as unknown as string, 'PATH_INVALID');
  });
});
