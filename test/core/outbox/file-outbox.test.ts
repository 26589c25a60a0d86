import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../../core/errors';
import { FileOutbox } from '../../../core/node/outbox/file-outbox';
import { encodeRecord, RECORD_HEADER_BYTES } from '../../../core/outbox/journal-record';
import { filePut, inputs, streamPut, taskMeta } from './fixtures';
import { runOutboxConformance } from './outbox-conformance';

let root: string;
let counter = 0;
const opened: FileOutbox[] = [];

before(() => {
  root = mkdtempSync(join(tmpdir(), 'roo-outbox-'));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A fresh journal path (in a folder that does not exist yet). */
function freshPath(): string {
  return join(root, `case-${++counter}`, 'outbox.journal');
}

async function open(path: string, options?: Parameters<typeof FileOutbox.open>[1]): Promise<FileOutbox> {
  const outbox = await FileOutbox.open(path, options);
  opened.push(outbox);
  return outbox;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((o) => o.close()));
});

/** Bytes of the head record `outbox` wrote when it created its journal. */
function headBytes(outbox: FileOutbox): number {
  return encodeRecord({ kind: 'head', format: 1, lastSeq: 0, anchored: false, journalId: outbox.journalId }).length;
}

runOutboxConformance('FileOutbox', () => open(freshPath()));

describe('FileOutbox', () => {
  describe('.open', () => {
    it('replays queued changes, coalescing and acknowledgements after reopening', async () => {
      const path = freshPath();
      const first = await open(path);
      await first.enqueue(inputs(filePut('a', 1), taskMeta('t', { title: 'x' }, 'c1'), filePut('b')));
      await first.enqueue(inputs(filePut('a', 2), taskMeta('t', { mode: 'ask' }, 'c2')));
      await first.acknowledge([3]);
      const before = first.pending();
      await first.close();

      const second = await open(path);
      assert.deepEqual(second.pending(), before);
      assert.deepEqual(
        before.map((c) => c.clientSeq),
        [4, 5],
      );
      assert.equal(second.lastSeq, 5);
      assert.equal(second.recovery.defect, null);
      const [next] = await second.enqueue(inputs(filePut('c')));
      assert.equal(next!.clientSeq, 6);
    });

    it('cuts off a torn tail, keeps the valid prefix and appends cleanly after it', async () => {
      const path = freshPath();
      const first = await open(path);
      await first.enqueue(inputs(filePut('a'), filePut('b')));
      await first.close();
      const torn = encodeRecord({ kind: 'enqueue', changes: [{ clientSeq: 3, baseSeq: null, body: filePut('c') }], drop: [] });
      const goodSize = statSync(path).size;
      appendFileSync(path, torn.subarray(0, torn.length - 5));

      const second = await open(path);
      assert.equal(second.recovery.defect?.kind, 'torn');
      assert.equal(second.recovery.discardedBytes, torn.length - 5);
      assert.equal(statSync(path).size, goodSize);
      assert.deepEqual(
        second.pending().map((c) => c.clientSeq),
        [1, 2],
      );
      await second.enqueue(inputs(filePut('d')));
      await second.close();

      const third = await open(path);
      assert.equal(third.recovery.defect, null);
      assert.deepEqual(
        third.pending().map((c) => c.clientSeq),
        [1, 2, 3],
      );
    });

    for (const journal of ['a new journal', 'a reopened journal']) {
      it(`cuts off a failed partial write (ENOSPC) of ${journal} and appends the next record right after the good ones`, async () => {
        const path = freshPath();
        let outbox = await open(path);
        if (journal === 'a reopened journal') {
          await outbox.enqueue(inputs(filePut('a')));
          await outbox.close();
          outbox = await open(path);
        }
        // The disk fills up in the middle of the next record: 7 bytes reach the file, then ENOSPC.
        const handle = (outbox as unknown as { handle: import('node:fs/promises').FileHandle }).handle;
        const writev = handle.writev.bind(handle);
        let failOnce = true;
        handle.writev = (async (buffers: Uint8Array[]) => {
          if (!failOnce) return writev(buffers);
          failOnce = false;
          await handle.write(buffers[0]!.subarray(0, 7));
          throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        }) as typeof handle.writev;
        await assert.rejects(outbox.enqueue(inputs(filePut('lost'))), (e: unknown) => isSyncError(e, 'OUTBOX_IO'));
        const [kept] = await outbox.enqueue(inputs(filePut('kept')));
        await outbox.close();

        const reopened = await open(path);
        assert.equal(reopened.recovery.defect, null, 'no hole, no torn tail');
        assert.deepEqual(reopened.pending().map((c) => c.clientSeq), [...(journal === 'a reopened journal' ? [1] : []), kept!.clientSeq]);
      });
    }

    it('starts afresh when even the head record never reached the disk', async () => {
      const path = freshPath();
      const first = await open(path);
      await first.close();
      writeFileSync(path, readFileSync(path).subarray(0, 7));
      const second = await open(path);
      assert.equal(second.size, 0);
      assert.equal(second.recovery.defect?.kind, 'torn');
    });

    it('refuses a journal damaged in the middle with OUTBOX_CORRUPT', async () => {
      const path = freshPath();
      const first = await open(path);
      await first.enqueue(inputs(filePut('a')));
      await first.enqueue(inputs(filePut('b')));
      const head = headBytes(first);
      await first.close();
      const bytes = readFileSync(path);
      bytes[head + RECORD_HEADER_BYTES + 3] ^= 0x20;
      writeFileSync(path, bytes);
      await assert.rejects(FileOutbox.open(path), (e) => isSyncError(e, 'OUTBOX_CORRUPT') && e.details?.defect === 'PAYLOAD_CHECKSUM');
      // The refused open released its lock.
      assert.equal(existsSync(`${path}.lock`), false);
    });

    it('salvages the valid prefix of a corrupt journal when asked, keeping a copy', async () => {
      const path = freshPath();
      const first = await open(path);
      await first.enqueue(inputs(filePut('a')));
      await first.enqueue(inputs(filePut('b')));
      await first.enqueue(inputs(filePut('c')));
      const head = headBytes(first);
      const journalId = first.journalId;
      await first.close();
      const bytes = readFileSync(path);
      bytes[head + RECORD_HEADER_BYTES + 3] ^= 0x20; // inside the first enqueue record
      const damaged = Buffer.from(bytes);
      writeFileSync(path, bytes);
      const salvaged = await open(path, { onCorrupt: 'salvage' });
      assert.equal(salvaged.recovery.defect?.kind, 'corrupt');
      assert.equal(salvaged.size, 0);
      assert.deepEqual(readFileSync(salvaged.recovery.salvagedCopy!), damaged);
      // Changes after the damage are gone: a new identity, so a sync state that queued into the old one checks.
      assert.ok(salvaged.journalId && salvaged.journalId !== journalId);
      await salvaged.enqueue(inputs(filePut('d')));
      const renamed = salvaged.journalId;
      await salvaged.close();
      const reopened = await open(path);
      assert.equal(reopened.recovery.defect, null);
      assert.equal(reopened.size, 1);
      assert.equal(reopened.journalId, renamed);
    });

    it('refuses a second owner with OUTBOX_LOCKED while the first is open', async () => {
      const path = freshPath();
      await open(path);
      await assert.rejects(FileOutbox.open(path), (e) => isSyncError(e, 'OUTBOX_LOCKED'));
    });

    it('refuses a lock held by another live process', async () => {
      const path = freshPath();
      (await open(path)).close();
      await opened.pop()!.close();
      writeFileSync(`${path}.lock`, JSON.stringify({ pid: process.ppid, host: hostname(), token: 'x' }));
      await assert.rejects(FileOutbox.open(path), (e) => isSyncError(e, 'OUTBOX_LOCKED') && e.details?.pid === process.ppid);
    });

    it('takes over the lock of a process that died', async () => {
      const path = freshPath();
      const child = spawn(process.execPath, ['-e', '0']);
      await once(child, 'exit');
      const first = await open(path);
      await first.enqueue(inputs(filePut('a')));
      await first.close();
      writeFileSync(`${path}.lock`, JSON.stringify({ pid: child.pid, host: hostname(), token: 'dead' }));
      const second = await open(path);
      assert.equal(second.size, 1);
      assert.match(readFileSync(`${path}.lock`, 'utf8'), new RegExp(`"pid":${process.pid}`));
    });

    it('removes the lock on close and leaves no temp files behind', async () => {
      const path = freshPath();
      const outbox = await open(path);
      await outbox.enqueue(inputs(filePut('a')));
      await outbox.compact();
      await outbox.close();
      assert.deepEqual(readdirSync(join(path, '..')), ['outbox.journal']);
    });

    it('drops a compaction copy left by a crash', async () => {
      const path = freshPath();
      const first = await open(path);
      await first.enqueue(inputs(filePut('a')));
      await first.close();
      writeFileSync(`${path}.compact`, 'half-written');
      const second = await open(path);
      assert.equal(second.size, 1);
      assert.equal(existsSync(`${path}.compact`), false);
    });
  });

  describe('#enqueue', () => {
    it('shares one fsync among concurrent calls (group commit), in call order', async () => {
      const outbox = await open(freshPath());
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => outbox.enqueue(inputs(filePut(`p${i}`)))));
      assert.deepEqual(
        results.map(([c]) => c!.clientSeq),
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      assert.ok(outbox.stats.commits < 20, `commits: ${outbox.stats.commits}`);
    });

    it('refuses a change that cannot be written as JSON alone, and commits the others', async () => {
      const outbox = await open(freshPath());
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const bad = outbox.enqueue([{ body: taskMeta('t', { cyclic }, 'c1'), baseSeq: null }]);
      const good = outbox.enqueue(inputs(filePut('ok')));
      await assert.rejects(bad, (e) => isSyncError(e, 'OUTBOX_INVALID_CHANGE'));
      assert.equal((await good)[0]!.body.type, 'file.put');
      assert.deepEqual(outbox.pending().map((c) => c.body), [filePut('ok')]);
    });
  });

  describe('.peekQueued', () => {
    it('counts the queued changes while another owner holds the journal, changing nothing; null without a journal', async () => {
      const path = freshPath();
      assert.equal(await FileOutbox.peekQueued(path), null);
      const outbox = await open(path);
      await outbox.enqueue(inputs(filePut('a', 1), filePut('b'), filePut('c')));
      await outbox.acknowledge([1]);
      const bytes = readFileSync(path);
      assert.equal(await FileOutbox.peekQueued(path), 2);
      // A record cut short (being appended) is left out, and the file is not cut.
      appendFileSync(path, Buffer.from([1, 2, 3]));
      assert.equal(await FileOutbox.peekQueued(path), 2);
      assert.equal(readFileSync(path).length, bytes.length + 3);
      assert.equal(outbox.size, 2);
    });

    it('refuses records that do not replay with OUTBOX_CORRUPT (status then says the depth is not known)', async () => {
      const path = freshPath();
      const outbox = await open(path);
      await outbox.enqueue(inputs(filePut('a')));
      await outbox.close();
      // The same enqueue record twice: its clientSeq does not increase.
      const bytes = readFileSync(path);
      const head = encodeRecord({ kind: 'head', format: 1, lastSeq: 0, anchored: false, journalId: outbox.journalId }).length;
      appendFileSync(path, bytes.subarray(head));
      await assert.rejects(FileOutbox.peekQueued(path), (e) => isSyncError(e, 'OUTBOX_CORRUPT'));
    });
  });

  describe('#compact', () => {
    it('runs by itself after acknowledgements once garbage passes the threshold', async () => {
      const path = freshPath();
      const outbox = await open(path, { compactMinGarbageBytes: 16 * 1024 });
      const queued = await outbox.enqueue(Array.from({ length: 400 }, (_, i) => ({ body: streamPut('t', `${i}:0`, 'x'.repeat(100)), baseSeq: null })));
      const bigBefore = outbox.journalBytes;
      await outbox.acknowledge(queued.slice(0, 390).map((c) => c.clientSeq));
      const live = outbox.pending();
      // Compaction runs right after the acknowledgement's commit; the next call waits for it.
      await outbox.enqueue(inputs(filePut('after')));
      assert.equal(outbox.stats.compactions, 1);
      assert.ok(outbox.journalBytes < bigBefore / 10, `${outbox.journalBytes} vs ${bigBefore}`);
      assert.equal(statSync(path).size, outbox.journalBytes);
      await outbox.close();

      const reopened = await open(path);
      assert.deepEqual(reopened.pending().slice(0, 10), live);
      assert.equal(reopened.lastSeq, 401);
    });

    it('waits by default until 4/5 of the journal is dead, so a migration acking while much is queued does not rewrite it again and again', async () => {
      const path = freshPath();
      const outbox = await open(path, { compactMinGarbageBytes: 16 * 1024 });
      const queued = await outbox.enqueue(Array.from({ length: 400 }, (_, i) => ({ body: streamPut('t', `${i}:0`, 'x'.repeat(100)), baseSeq: null })));
      // 70% dead: a ratio of 1 (half dead) compacted here.
      await outbox.acknowledge(queued.slice(0, 280).map((c) => c.clientSeq));
      await outbox.enqueue(inputs(filePut('after 70%')));
      assert.equal(outbox.stats.compactions, 0);
      await outbox.acknowledge(queued.slice(280, 340).map((c) => c.clientSeq));
      await outbox.enqueue(inputs(filePut('after 85%')));
      assert.equal(outbox.stats.compactions, 1);
      await outbox.close();
      const reopened = await open(path);
      assert.deepEqual(reopened.pending().map((c) => c.clientSeq), [...queued.slice(340).map((c) => c.clientSeq), 401, 402]);
    });

    it('keeps clientSeqs increasing when compaction leaves an empty journal', async () => {
      const path = freshPath();
      const outbox = await open(path);
      const queued = await outbox.enqueue(inputs(filePut('a'), filePut('b')));
      await outbox.acknowledge(queued.map((c) => c.clientSeq));
      await outbox.compact();
      assert.equal(outbox.size, 0);
      await outbox.close();
      const reopened = await open(path);
      const [next] = await reopened.enqueue(inputs(filePut('c')));
      assert.equal(next!.clientSeq, 3);
    });
  });

  describe('#journalId', () => {
    it('stays the same across reopening and compaction, and is new for a journal created afresh', async () => {
      const path = freshPath();
      const first = await open(path);
      const id = first.journalId;
      assert.match(id ?? '', /^[0-9a-f-]{36}$/);
      const queued = await first.enqueue(inputs(filePut('a'), filePut('b')));
      await first.acknowledge([queued[0]!.clientSeq]);
      await first.compact();
      assert.equal(first.journalId, id);
      await first.close();
      const reopened = await open(path);
      assert.equal(reopened.journalId, id);
      await reopened.close();
      rmSync(path);
      const fresh = await open(path);
      assert.ok(fresh.journalId && fresh.journalId !== id);
    });

    it('gives a journal written before ids existed one when it opens, keeping its queue', async () => {
      const path = freshPath();
      const legacy = await open(path);
      await legacy.enqueue(inputs(filePut('a')));
      await legacy.close();
      const bytes = readFileSync(path);
      const head = headBytes(legacy);
      writeFileSync(path, Buffer.concat([encodeRecord({ kind: 'head', format: 1, lastSeq: 0 }), bytes.subarray(head)]));
      const reopened = await open(path);
      assert.match(reopened.journalId ?? '', /^[0-9a-f-]{36}$/);
      assert.notEqual(reopened.journalId, legacy.journalId);
      assert.deepEqual(reopened.pending().map((c) => c.body), [filePut('a')]);
      assert.equal(reopened.anchored, true);
      const id = reopened.journalId;
      await reopened.close();
      assert.equal((await open(path)).journalId, id);
    });
  });

  describe('#anchor', () => {
    it('keeps the anchor and the renumbered queue across a reopen', async () => {
      const path = freshPath();
      const first = await open(path);
      await first.enqueue(inputs(filePut('a'), filePut('b')));
      await first.anchor(7);
      await first.close();
      const second = await open(path);
      assert.equal(second.anchored, true);
      assert.deepEqual(second.pending().map((c) => [c.clientSeq, c.body]), [
        [8, filePut('a')],
        [9, filePut('b')],
      ]);
      const [next] = await second.enqueue(inputs(filePut('c')));
      assert.equal(next!.clientSeq, 10);
      assert.deepEqual(await second.anchor(9), { action: 'kept', renumbered: 0, lastSeq: 10 });
    });

    it('starts unanchored, numbering from 1, when the journal was deleted', async () => {
      const path = freshPath();
      const first = await open(path);
      await first.anchor(0);
      const queued = await first.enqueue(inputs(filePut('a'), filePut('b')));
      await first.acknowledge(queued.map((c) => c.clientSeq));
      await first.close();
      opened.splice(opened.indexOf(first), 1);
      rmSync(path);
      const second = await open(path);
      assert.equal(second.anchored, false);
      const [fresh] = await second.enqueue(inputs(filePut('c')));
      assert.equal(fresh!.clientSeq, 1, 'a number the relay already holds for another change');
      assert.deepEqual(await second.anchor(2), { action: 'anchored', renumbered: 1, lastSeq: 3 });
      assert.deepEqual(second.pending().map((c) => c.clientSeq), [3]);
    });

    it('counts a journal written before anchoring existed (head without the flag) as anchored', async () => {
      const path = freshPath();
      const legacy = await open(path);
      await legacy.close();
      writeFileSync(path, encodeRecord({ kind: 'head', format: 1, lastSeq: 5 }));
      const reopened = await open(path);
      assert.equal(reopened.anchored, true);
      const [next] = await reopened.enqueue(inputs(filePut('a')));
      assert.equal(next!.clientSeq, 6);
      assert.deepEqual(await reopened.anchor(6), { action: 'kept', renumbered: 0, lastSeq: 6 });
    });

    it('keeps the flag through compaction, anchored or not', async () => {
      for (const anchor of [true, false]) {
        const path = freshPath();
        const outbox = await open(path);
        if (anchor) await outbox.anchor(4);
        const queued = await outbox.enqueue(inputs(filePut('a'), filePut('b')));
        await outbox.acknowledge([queued[0]!.clientSeq]);
        await outbox.compact();
        assert.equal(outbox.stats.compactions, 1);
        await outbox.close();
        const reopened = await open(path);
        assert.equal(reopened.anchored, anchor);
        assert.deepEqual(reopened.pending().map((c) => c.clientSeq), [anchor ? 6 : 2]);
      }
    });

    it('commits calls made before an anchor first and plans calls after it on the renumbered queue', async () => {
      const outbox = await open(freshPath());
      const [before, , after] = await Promise.all([
        outbox.enqueue(inputs(filePut('a'))),
        outbox.anchor(10),
        outbox.enqueue(inputs(filePut('b'))),
      ]);
      assert.equal(before[0]!.clientSeq, 1, 'numbered before the anchor');
      assert.equal(after[0]!.clientSeq, 12);
      assert.deepEqual(outbox.pending().map((c) => [c.clientSeq, c.body]), [
        [11, filePut('a')],
        [12, filePut('b')],
      ]);
    });
  });

  describe('replay of a long offline session', () => {
    it('replays 50,000 queued changes in order after reopening', async function () {
      this.timeout(60_000);
      const path = freshPath();
      const outbox = await open(path);
      const calls: Array<Promise<unknown>> = [];
      for (let i = 0; i < 50_000; i += 100) {
        calls.push(
          outbox.enqueue(
            Array.from({ length: 100 }, (_, j) => ({ body: streamPut(`task-${(i + j) % 50}`, `${i + j}:0`, `message ${i + j}`), baseSeq: null })),
          ),
        );
      }
      await Promise.all(calls);
      await outbox.close();

      const reopened = await open(path);
      const pending = reopened.pending();
      assert.equal(pending.length, 50_000);
      pending.forEach((c, i) => {
        assert.equal(c.clientSeq, i + 1);
        assert.equal(c.body.type === 'stream.put' && c.body.key, `${i}:0`);
      });
    });
  });
});
