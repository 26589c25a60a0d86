import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import { sha256Hex } from '../../../core/model/hash';
import { ConflictResolver, type FileVersion } from '../../../core/merge/conflict-resolver';
import { isConflictCopy } from '../../../core/merge/conflict-copy';

const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);
const version = (content: string | Uint8Array, mtime = 1000, binary = false): FileVersion => {
  const data = typeof content === 'string' ? bytes(content) : content;
  return { bytes: data, hash: sha256Hex(data), mtime, binary };
};
const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
const laptop = new ConflictResolver({ deviceId: 'laptop' });
const base = 'alpha\nbeta\ngamma\ndelta\nepsilon\nzeta\n';

describe('ConflictResolver', () => {
  describe('#resolveFile', () => {
    it('keeps the content when both sides are equal', () => {
      const result = laptop.resolveFile({ path: 'a.txt', base: bytes(base), local: version('same'), remote: version('same', 5), remoteDevice: 'pc', at });
      assert.deepEqual(result, { keep: bytes('same'), winner: 'local' });
    });

    it('takes the side that alone changed from the base', () => {
      const remoteOnly = laptop.resolveFile({ path: 'a.txt', base: bytes(base), local: version(base), remote: version('new'), remoteDevice: 'pc', at });
      assert.deepEqual([text(remoteOnly.keep), remoteOnly.winner, remoteOnly.conflict], ['new', 'remote', undefined]);
      const localOnly = laptop.resolveFile({ path: 'a.txt', base: bytes(base), local: version('mine'), remote: version(base), remoteDevice: 'pc', at });
      assert.deepEqual([text(localOnly.keep), localOnly.winner, localOnly.conflict], ['mine', 'local', undefined]);
    });

    it('applies a clean three-way merge of text', () => {
      const local = base.replace('alpha', 'ALPHA');
      const remote = base.replace('zeta', 'ZETA');
      const result = laptop.resolveFile({ path: 'src/x.ts', base: bytes(base), local: version(local), remote: version(remote), remoteDevice: 'pc', at });
      assert.equal(text(result.keep), base.replace('alpha', 'ALPHA').replace('zeta', 'ZETA'));
      assert.equal(result.winner, 'merged');
      assert.equal(result.conflictCopy, undefined);
      assert.equal(result.conflict, undefined);
    });

    it('keeps local and writes remote beside it for overlapping edits, with no markers', () => {
      const local = version(base.replace('gamma', 'GAMMA (laptop)'));
      const remote = version(base.replace('gamma', 'GAMMA (pc)'));
      const result = laptop.resolveFile({ path: 'docs/notes.md', base: bytes(base), local, remote, remoteDevice: 'pc', at });
      assert.equal(result.keep, local.bytes);
      assert.deepEqual(result.conflictCopy, { path: 'docs/notes.sync-conflict-20260102-030405-pc.md', bytes: remote.bytes });
      assert.deepEqual(result.conflict, { path: 'docs/notes.md', reason: 'overlapping-edit' });
      assert.ok(isConflictCopy(result.conflictCopy!.path));
      assert.ok(!text(result.keep).includes('<<<<<<<'));
    });

    it('treats two different texts without a base as an overlapping edit', () => {
      const result = laptop.resolveFile({ path: 'new.txt', base: null, local: version('a\n'), remote: version('b\n'), remoteDevice: 'pc', at });
      assert.equal(result.conflict?.reason, 'overlapping-edit');
      assert.equal(text(result.conflictCopy!.bytes), 'b\n');
    });

    it('keeps a byte-order mark through a merge', () => {
      const bomBase = '\ufeffa\nb\nc\nd\n';
      const result = laptop.resolveFile({
        path: 'bom.txt',
        base: bytes(bomBase),
        local: version('\ufeffA\nb\nc\nd\n'),
        remote: version('\ufeffa\nb\nc\nD\n'),
        remoteDevice: 'pc',
        at,
      });
      assert.deepEqual([...result.keep.slice(0, 3)], [0xef, 0xbb, 0xbf]);
      assert.equal(result.winner, 'merged');
    });

    describe('binary files', () => {
      const png = (n: number) => new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, n]);

      it('keeps the newer version and the other as a copy named after its device', () => {
        const local = version(png(1), 2000, true);
        const remote = version(png(2), 3000, true);
        const result = laptop.resolveFile({ path: 'img/logo.png', base: png(0), local, remote, remoteDevice: 'pc', at });
        assert.equal(result.keep, remote.bytes);
        assert.equal(result.winner, 'remote');
        assert.deepEqual(result.conflictCopy, { path: 'img/logo.sync-conflict-20260102-030405-laptop.png', bytes: local.bytes });
        assert.deepEqual(result.conflict, { path: 'img/logo.png', reason: 'binary' });
      });

      it('breaks an mtime tie by hash, and both devices agree', () => {
        const mine = version(png(1), 2000, true);
        const theirs = version(png(2), 2000, true);
        const pc = new ConflictResolver({ deviceId: 'pc' });
        const onLaptop = laptop.resolveFile({ path: 'b.bin', base: null, local: mine, remote: theirs, remoteDevice: 'pc', at });
        const onPc = pc.resolveFile({ path: 'b.bin', base: null, local: theirs, remote: mine, remoteDevice: 'laptop', at });
        const winner = mine.hash > theirs.hash ? mine : theirs;
        assert.equal(onLaptop.keep, winner.bytes);
        assert.equal(onPc.keep, winner.bytes);
        assert.deepEqual(onLaptop.conflictCopy, onPc.conflictCopy);
      });

      it('treats text that is not valid UTF-8 as binary even when not flagged', () => {
        const local = version(new Uint8Array([0x63, 0xe9]), 5000);
        const remote = version(new Uint8Array([0x63, 0xe8]), 4000);
        const result = laptop.resolveFile({ path: 'latin1.txt', base: new Uint8Array([0x63]), local, remote, remoteDevice: 'pc', at });
        assert.equal(result.conflict?.reason, 'binary');
        assert.equal(result.keep, local.bytes);
      });
    });

    describe('deletions', () => {
      it('keeps an edit over a deletion on either side and says so', () => {
        const edited = version('edited');
        const remoteDeleted = laptop.resolveFile({ path: 'a.txt', base: bytes('x'), local: edited, remote: null, remoteDevice: 'pc', at });
        assert.deepEqual(remoteDeleted, { keep: edited.bytes, winner: 'local', conflict: { path: 'a.txt', reason: 'delete-vs-edit' } });
        const localDeleted = laptop.resolveFile({ path: 'a.txt', base: bytes('x'), local: null, remote: edited, remoteDevice: 'pc', at });
        assert.equal(localDeleted.keep, edited.bytes);
        assert.equal(localDeleted.winner, 'remote');
      });

      it('refuses to resolve two deletions with CONFLICT_NOTHING_TO_RESOLVE', () => {
        assert.throws(
          () => laptop.resolveFile({ path: 'a.txt', local: null, remote: null, remoteDevice: 'pc', at }),
          (err) => isSyncError(err, 'CONFLICT_NOTHING_TO_RESOLVE'),
        );
      });
    });

    it('gives the same result for the same inputs every time', () => {
      const input = { path: 'a.md', base: bytes(base), local: version(base + 'l\n'), remote: version('r\n' + base), remoteDevice: 'pc', at };
      assert.deepEqual(laptop.resolveFile(input), new ConflictResolver({ deviceId: 'laptop' }).resolveFile(input));
    });
  });
});
