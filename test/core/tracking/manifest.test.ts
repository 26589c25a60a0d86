import assert from 'node:assert/strict';
import { diffManifest, type ManifestEntry } from '../../../core/tracking/manifest';

const file = (path: string, hash: string, extra: Partial<ManifestEntry> = {}): ManifestEntry => ({
  path,
  hash: hash.repeat(64).slice(0, 64),
  size: 10,
  mode: 0o644,
  mtime: 1000,
  binary: false,
  ...extra,
});
const manifest = (...entries: ManifestEntry[]) => new Map(entries.map((e) => [e.path, e]));

describe('diffManifest', () => {
  it('finds new, changed and deleted files, sorted by path', () => {
    const synced = manifest(file('b.ts', 'b'), file('a.ts', 'a'), file('gone.txt', 'g'), file('same.md', 's'));
    const current = manifest(file('same.md', 's'), file('b.ts', 'B'), file('a.ts', 'a'), file('new/c.ts', 'c'));
    const diff = diffManifest(current, synced);
    assert.deepEqual(diff.changed.map((e) => e.path), ['b.ts', 'new/c.ts']);
    assert.deepEqual(diff.deleted, ['gone.txt']);
  });

  it('counts a mode change and ignores a touch (new mtime, same content)', () => {
    const synced = manifest(file('run.sh', 'r'), file('touched.ts', 't'));
    const current = manifest(file('run.sh', 'r', { mode: 0o755 }), file('touched.ts', 't', { mtime: 99999 }));
    assert.deepEqual(diffManifest(current, synced).changed.map((e) => e.path), ['run.sh']);
  });

  it('deletes nothing when the scan is empty (empty is not a deletion)', () => {
    const synced = manifest(file('a.ts', 'a'), file('b.ts', 'b'));
    assert.deepEqual(diffManifest(new Map(), synced), { changed: [], deleted: [] });
  });
});
