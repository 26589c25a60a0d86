import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError, type SyncError } from '../../../core/errors';
import { FileChangeDetector, type FileBatch, type FileChangeDetectorOptions } from '../../../core/node/watch/file-change-detector';
import { isAssistantScratch, isBeyondDepth } from '../../../core/node/watch/watch-ignores';
import { BatchRecorder } from './batch-recorder';

describe('watch ignores', () => {
  describe('#isAssistantScratch', () => {
    it('matches the assistants temp files, lock folders, checkpoints and command output', () => {
      for (const path of [
        'tasks/1/.ui_messages.json.new_1732000000000_ab12cd.tmp',
        'tasks/1/.api_conversation_history.json.bak_1732000000000_x9.tmp',
        'tasks/1/ui_messages.json.lock',
        'tasks/1/ui_messages.json.lock/owner',
        'tasks/1/checkpoints/.git/HEAD',
        'tasks/1/command-output/cmd-7.txt',
      ]) {
        assert.equal(isAssistantScratch(path), true, path);
      }
    });
    it('leaves task files and look-alikes alone', () => {
      for (const path of ['', 'tasks/1/ui_messages.json', 'tasks/1/notes.tmp', 'tasks/1/lockfile', 'a.new_1_x.tmp']) {
        assert.equal(isAssistantScratch(path), false, path);
      }
    });
  });
  describe('#isBeyondDepth', () => {
    it('uses chokidar depth: 0 keeps only the root entries', () => {
      assert.equal(isBeyondDepth('a.txt', 0), false);
      assert.equal(isBeyondDepth('d/a.txt', 0), true);
      assert.equal(isBeyondDepth('d/a.txt', 1), false);
      assert.equal(isBeyondDepth('d/e/a.txt', undefined), false);
    });
  });
});

describe('FileChangeDetector', function () {
  this.timeout(30_000);
  let base: string;
  let counter = 0;
  const open: FileChangeDetector[] = [];

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'roo-watch-'));
  });
  after(() => {
    rmSync(base, { recursive: true, force: true });
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((d) => d.close()));
  });

  function fresh(): { root: string; statePath: string } {
    const dir = join(base, `case-${++counter}`);
    mkdirSync(join(dir, 'root'), { recursive: true });
    return { root: join(dir, 'root'), statePath: join(dir, 'state', 'watch.json') };
  }

  function detector(root: string, options: FileChangeDetectorOptions = {}) {
    const d = new FileChangeDetector(root, { debounceMs: 150, ...options });
    const recorder = new BatchRecorder<FileBatch>();
    d.onBatch(recorder.listener);
    open.push(d);
    return { d, recorder };
  }

  const write = (root: string, rel: string, text: string) => {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), text);
  };

  describe('#start', () => {
    it('reports every file on a first start without saved state', async () => {
      const { root } = fresh();
      write(root, 'a.txt', 'a');
      write(root, 'sub/b.txt', 'b');
      const { d, recorder } = detector(root);
      await d.start();
      assert.deepEqual(recorder.batches, [{ changed: ['a.txt', 'sub/b.txt'], removed: [] }]);
    });

    it('finds changes made while nothing ran, but not files merely touched', async () => {
      const { root, statePath } = fresh();
      write(root, 'keep.txt', 'same');
      write(root, 'edit.txt', 'v1');
      write(root, 'gone.txt', 'x');
      write(root, 'touch.txt', 'same');
      const first = detector(root, { statePath });
      await first.d.start();
      await first.d.close();

      write(root, 'edit.txt', 'v2');
      write(root, 'new/added.txt', 'n');
      unlinkSync(join(root, 'gone.txt'));
      utimesSync(join(root, 'touch.txt'), new Date(), new Date(Date.now() + 5000));
      const second = detector(root, { statePath });
      await second.d.start();
      assert.deepEqual(second.recorder.batches, [{ changed: ['edit.txt', 'new/added.txt'], removed: ['gone.txt'] }]);

      await second.d.close();
      const third = detector(root, { statePath });
      await third.d.start();
      assert.deepEqual(third.recorder.batches, [], 'nothing changed since the last run');
    });

    it('hashes every file at start, so an edit that kept size and mtime is found', async () => {
      const { root, statePath } = fresh();
      const file = join(root, 'same-size.txt');
      const wholeSecond = 1_700_000_000; // an mtime that survives a round trip exactly
      write(root, 'same-size.txt', 'aaaa');
      utimesSync(file, wholeSecond, wholeSecond);
      const first = detector(root, { statePath });
      await first.d.start();
      await first.d.close();
      write(root, 'same-size.txt', 'bbbb');
      utimesSync(file, wholeSecond, wholeSecond);
      assert.equal(statSync(file).mtimeMs, wholeSecond * 1000);

      const statOnly = detector(root, { statePath, rescan: 'stat' });
      await statOnly.d.start();
      assert.deepEqual(statOnly.recorder.batches, [], 'a stat rescan trusts size and mtime');
      await statOnly.d.close();
      const hashing = detector(root, { statePath });
      await hashing.d.start();
      assert.deepEqual(hashing.recorder.batches, [{ changed: ['same-size.txt'], removed: [] }]);
    });

    it('fails with WATCH_ROOT_MISSING when the folder does not exist', async () => {
      const { d } = detector(join(base, 'no-such-folder'));
      await assert.rejects(d.start(), (e) => isSyncError(e, 'WATCH_ROOT_MISSING'));
    });

    it('reports a batch again when its listener failed', async () => {
      const { root, statePath } = fresh();
      write(root, 'a.txt', 'a');
      const first = new FileChangeDetector(root, { statePath, debounceMs: 100 });
      open.push(first);
      const errors: SyncError[] = [];
      first.onError((e) => errors.push(e));
      first.onBatch(() => {
        throw new Error('consumer down');
      });
      await first.start();
      assert.deepEqual(
        errors.map((e) => e.code),
        ['WATCH_LISTENER_FAILED'],
      );
      await first.close();
      const second = detector(root, { statePath });
      await second.d.start();
      assert.deepEqual(second.recorder.batches, [{ changed: ['a.txt'], removed: [] }]);
    });
  });

  describe('watching', () => {
    it('coalesces a burst of writes into one batch', async () => {
      const { root } = fresh();
      const { d, recorder } = detector(root, { debounceMs: 400 });
      await d.start();
      const batch = recorder.next();
      for (let i = 0; i < 20; i++) write(root, `burst/f${String(i).padStart(2, '0')}.txt`, `v${i}`);
      for (let i = 0; i < 5; i++) write(root, 'hot.txt', `rewrite ${i}`);
      assert.deepEqual(await batch, {
        changed: [...Array.from({ length: 20 }, (_, i) => `burst/f${String(i).padStart(2, '0')}.txt`), 'hot.txt'],
        removed: [],
      });
      await d.flush();
      assert.equal(recorder.batches.length, 1);
    });

    it('ignores the assistants temp and lock files, checkpoints and command output', async () => {
      const { root } = fresh();
      // The lock folder stays (a crash left it): the batch waits for it up to maxWaitMs.
      const { d, recorder } = detector(root, { maxWaitMs: 300, ignoreAssistantScratch: true });
      await d.start();
      const batch = recorder.next();
      write(root, 'tasks/1/.ui_messages.json.new_1732000000000_k3j2.tmp', 'partial');
      write(root, 'tasks/1/.ui_messages.json.bak_1732000000000_k3j2.tmp', 'old');
      mkdirSync(join(root, 'tasks/1/ui_messages.json.lock'), { recursive: true });
      write(root, 'tasks/1/checkpoints/.git/HEAD', 'ref');
      write(root, 'tasks/1/command-output/cmd-1.txt', 'ls');
      write(root, 'tasks/1/ui_messages.json', '[]');
      assert.deepEqual(await batch, { changed: ['tasks/1/ui_messages.json'], removed: [] });
    });

    it("reports a workspace's lock files and checkpoints folder: the assistants' rule is off by default", async () => {
      const { root } = fresh();
      const { d, recorder } = detector(root);
      await d.start();
      const batch = recorder.next();
      write(root, 'yarn.lock', 'lock v1');
      write(root, 'crates/Cargo.lock', 'lock v1');
      write(root, 'checkpoints/model.txt', 'weights');
      assert.deepEqual(await batch, { changed: ['checkpoints/model.txt', 'crates/Cargo.lock', 'yarn.lock'], removed: [] });
    });

    it('waits while an assistant holds a lock in the folder, then reports its files in one batch', async () => {
      const { root } = fresh();
      const { d, recorder } = detector(root, { debounceMs: 10, ignoreAssistantScratch: true });
      await d.start();
      const batch = recorder.next();
      const lock = join(root, 'tasks/1/ui_messages.json.lock');
      mkdirSync(lock, { recursive: true });
      write(root, 'tasks/1/api_conversation_history.json', '[1]');
      // The assistant is still at work on its next file, long past the debounce.
      await new Promise((resolve) => setTimeout(resolve, 150));
      write(root, 'tasks/1/ui_messages.json', '[2]');
      rmSync(lock, { recursive: true });
      assert.deepEqual(await batch, { changed: ['tasks/1/api_conversation_history.json', 'tasks/1/ui_messages.json'], removed: [] });
    });

    it('reports a rewrite whose change event chokidar dropped (a second rename within 50 ms)', async () => {
      const { root } = fresh();
      write(root, 'f.json', 'v0');
      const replace = (text: string) => {
        write(root, '.f.json.new_1_a.tmp', text);
        renameSync(join(root, '.f.json.new_1_a.tmp'), join(root, 'f.json'));
      };
      const { d, recorder } = detector(root, { debounceMs: 1, check: 'stat', ignoreAssistantScratch: true });
      const contents: string[] = [];
      d.onBatch(() => void contents.push(readFileSync(join(root, 'f.json'), 'utf8')));
      await d.start();
      const after = recorder.batches.length;
      const first = recorder.nth(after);
      replace('v1');
      await first;
      // Right after the batch, within chokidar's 50 ms throttle of the first event.
      replace('v2');
      await recorder.nth(after + 1, 5000);
      assert.equal(contents.at(-1), 'v2');
    });

    it('reports a rewrite that raised no event at all, seconds later, through the widening rechecks', async () => {
      const { root } = fresh();
      write(root, 'f.json', 'v0');
      const { d, recorder } = detector(root, { debounceMs: 1, check: 'stat' });
      await d.start();
      const after = recorder.batches.length;
      const first = recorder.nth(after);
      write(root, 'f.json', 'v1 longer');
      await first;
      // From here chokidar raises nothing for f.json (as when it loses the event of a replace).
      (d as unknown as { watcher: { unwatch(path: string): void } }).watcher.unwatch(join(root, 'f.json'));
      // The assistant writes again after the first recheck (60 ms) has come and gone.
      await new Promise((resolve) => setTimeout(resolve, 150));
      write(root, 'f.json', 'v2 longer still');
      assert.deepEqual(await recorder.nth(after + 1, 5000), { changed: ['f.json'], removed: [] });
    });

    it('reports removed files, including everything under a removed folder', async () => {
      const { root } = fresh();
      write(root, 'keep.txt', 'k');
      write(root, 'dir/a.txt', 'a');
      write(root, 'dir/deeper/b.txt', 'b');
      const { d, recorder } = detector(root);
      await d.start();
      const batch = recorder.next();
      rmSync(join(root, 'dir'), { recursive: true });
      assert.deepEqual(await batch, { changed: [], removed: ['dir/a.txt', 'dir/deeper/b.txt'] });
    });

    it('does not report a rewrite with the same content', async () => {
      const { root } = fresh();
      write(root, 'same.json', '{"a":1}');
      const { d, recorder } = detector(root);
      await d.start();
      const batch = recorder.next();
      write(root, 'same.json', '{"a":1}');
      write(root, 'sentinel.txt', 'now');
      assert.deepEqual(await batch, { changed: ['sentinel.txt'], removed: [] });
    });

    it('stays within depth', async () => {
      const { root } = fresh();
      write(root, 'top.txt', 't');
      write(root, 'one/two/deep.txt', 'd');
      write(root, 'one/mid.txt', 'm');
      const { d, recorder } = detector(root, { depth: 1 });
      await d.start();
      assert.deepEqual(recorder.batches, [{ changed: ['one/mid.txt', 'top.txt'], removed: [] }]);
    });

    it('does not watch its own state file inside the root', async () => {
      const { root } = fresh();
      const { d, recorder } = detector(root, { statePath: join(root, '.watch-state.json'), saveIntervalMs: 1 });
      write(root, 'a.txt', 'a');
      await d.start();
      const batch = recorder.next();
      write(root, 'b.txt', 'b');
      assert.deepEqual(await batch, { changed: ['b.txt'], removed: [] });
      await d.flush();
      assert.deepEqual(recorder.batches.flatMap((b) => b.changed), ['a.txt', 'b.txt']);
    });
  });

  describe('#close', () => {
    it('is safe to call twice and refuses a start afterwards', async () => {
      const { root } = fresh();
      const { d } = detector(root);
      await d.start();
      await d.close();
      await d.close();
      await assert.rejects(d.start(), (e) => isSyncError(e, 'WATCH_CLOSED'));
    });

    it('settles a start that is still waiting for the watcher', async () => {
      const { root } = fresh();
      const { d, recorder } = detector(root);
      const starting = d.start();
      await d.close();
      await starting;
      assert.equal(recorder.batches.length, 0);
    });

    it('is safe before start', async () => {
      const { root } = fresh();
      const { d } = detector(root);
      await d.close();
      await d.close();
    });
  });
});
