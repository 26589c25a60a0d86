/**
 * The device's durable outbox (DESIGN.md "Offline"): an append-only journal file of framed
 * records (core/outbox/journal-record.ts). A change counts as queued only once its record is
 * fsynced; concurrent calls share one write and one fsync (group commit). After a crash the
 * torn tail is cut off and the queue is rebuilt by replaying the records. Acknowledged changes
 * become garbage that compaction drops by rewriting the live records to a new file and
 * renaming it over the journal.
 */
import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SyncError, isSyncError } from '../../errors';
import type { ClientChange } from '../../model/changes';
import {
  decodeJournal,
  frameRecord,
  isClientChange,
  type EnqueueRecord,
  type FramedRecord,
  type JournalRecord,
} from '../../outbox/journal-record';
import { assertAnchorMark, OutboxState, type ChangeInput } from '../../outbox/outbox-state';
import type { AnchorOutcome, Outbox } from '../../ports/outbox';
import { fsyncDirectory, readFileIfExists, removeIfExists } from './durable-fs';
import { nativeChecksum } from './native-crc32';
import { OwnerLock } from './owner-lock';

export interface FileOutboxOptions {
  /** Compaction waits until the dead bytes exceed this (default 1 MiB). */
  compactMinGarbageBytes?: number;
  /**
   * ...and exceed the live bytes times this (default 4: at least 4/5 of the file is dead). A
   * lower ratio rewrites the live changes more often: during a migration, where acks arrive
   * while much is still queued, a ratio of 1 spent more time rewriting than appending.
   */
  compactGarbageRatio?: number;
  /** Live changes per record in a compacted file (default 1000). */
  compactRecordChanges?: number;
  /**
   * What to do with a journal that is corrupt in the middle (not merely torn at the end):
   * `throw` OUTBOX_CORRUPT (default), or `salvage`: copy the file aside as
   * `<path>.corrupt-<ms>`, keep the valid prefix and go on. Salvaging loses the queued
   * changes after the damage; the journal gets a new `journalId`, which tells HybridStorage
   * to queue again what its sync state tracks as queued and the journal lacks.
   */
  onCorrupt?: 'throw' | 'salvage';
}

/** What opening found on disk (for logs and tests). */
export interface FileOutboxRecovery {
  /** Bytes cut off the end: a torn tail (after a crash) or the rest after salvaged corruption. */
  discardedBytes: number;
  /** The defect that ended the readable prefix, if any. */
  defect: ReturnType<typeof decodeJournal>['defect'];
  /** Where the corrupt original was copied before salvaging, if it was. */
  salvagedCopy: string | null;
}

type Operation =
  | { kind: 'enqueue'; inputs: ChangeInput[]; resolve: (v: ClientChange[]) => void; reject: (e: unknown) => void }
  | { kind: 'ack'; seqs: readonly number[]; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'compact'; resolve: () => void; reject: (e: unknown) => void }
  | { kind: 'anchor'; mark: number; resolve: (v: AnchorOutcome) => void; reject: (e: unknown) => void };

type EnqueueOperation = Extract<Operation, { kind: 'enqueue' }>;
type CompactOperation = Extract<Operation, { kind: 'compact' }>;
type AnchorOperation = Extract<Operation, { kind: 'anchor' }>;

interface EncodedRecord {
  record: JournalRecord;
  framed: FramedRecord;
}

/** Largest journal peekQueued reads. */
const PEEK_MAX_BYTES = 256 * 1024 * 1024;

const DEFAULTS = {
  compactMinGarbageBytes: 1024 * 1024,
  compactGarbageRatio: 4,
  compactRecordChanges: 1000,
  onCorrupt: 'throw' as 'throw' | 'salvage',
};
type Settings = typeof DEFAULTS;

export class FileOutbox implements Outbox {
  private readonly queue: Operation[] = [];
  private draining: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** Set after an IO failure that leaves the file in an unknown state: every call then rejects. */
  private failure: SyncError | null = null;
  private lastCompactionError: SyncError | null = null;
  /** After a failed compaction, do not retry before this much garbage has accrued. */
  private compactRetryAtGarbage = 0;
  private compactions = 0;
  private commits = 0;

  private constructor(
    /** Absolute path of the journal file. */
    readonly path: string,
    private handle: fsp.FileHandle,
    private state: OutboxState,
    /** Bytes in the journal file. */
    private fileBytes: number,
    private readonly lock: OwnerLock,
    private readonly settings: Settings,
    /** What opening found on disk. */
    readonly recovery: FileOutboxRecovery,
  ) {}

  /**
   * Opens (or creates) the journal at `path`, taking the owner lock `<path>.lock`.
   * Throws OUTBOX_LOCKED when another live process owns it, OUTBOX_CORRUPT when the file is
   * damaged before its end (unless `onCorrupt: 'salvage'`), OUTBOX_IO on file system errors.
   */
  static async open(path: string, options: FileOutboxOptions = {}): Promise<FileOutbox> {
    const file = resolve(path);
    const settings: Settings = { ...DEFAULTS, ...definedOnly(options) };
    await fsp.mkdir(dirname(file), { recursive: true }).catch((err: unknown) => {
      throw ioError('cannot create the outbox directory', file, err);
    });
    const lock = await OwnerLock.acquire(`${file}.lock`).catch((err: unknown) => {
      throw isSyncError(err) ? err : ioError('cannot take the outbox lock', file, err);
    });
    let outbox: FileOutbox | undefined;
    try {
      outbox = await FileOutbox.load(file, lock, settings);
      if (outbox.recovery.salvagedCopy !== null || outbox.journalId === undefined) {
        // Salvaged: changes after the damage are gone, and a new identity tells the sync state to
        // check. Written before ids existed: the journal gets one (rewritten once).
        const error = await outbox.compactNow(randomUUID());
        if (error) throw error;
      }
      await outbox.compactIfWorthIt();
      return outbox;
    } catch (err) {
      await outbox?.handle.close().catch(() => undefined);
      await lock.release().catch(() => undefined);
      throw isSyncError(err) ? err : ioError('cannot open the outbox', file, err);
    }
  }

  /**
   * How many changes the journal at `path` holds queued, read without the owner lock and
   * without changing the file (null: no journal there): for a status shown while another process
   * owns the outbox. A record being appended meanwhile reads as a torn tail, which is left out.
   * Throws OUTBOX_TOO_LARGE_TO_PEEK past 256 MB, OUTBOX_CORRUPT for records that do not replay.
   */
  static async peekQueued(path: string): Promise<number | null> {
    const file = resolve(path);
    const size = await fsp.stat(file).then((s) => s.size, () => null);
    if (size === null) return null;
    // A journal that large (a long offline stretch) is not read whole just to be counted.
    if (size > PEEK_MAX_BYTES) throw new SyncError('OUTBOX_TOO_LARGE_TO_PEEK', `the outbox journal holds ${Math.round(size / 1e6)} MB; its owner knows how many changes wait`, { path: file, bytes: size });
    const bytes = await readFileIfExists(file);
    if (bytes === null) return null;
    const decoded = decodeJournal(bytes, nativeChecksum);
    if (decoded.records[0]?.kind !== 'head') return 0;
    const state = new OutboxState();
    decoded.records.forEach((record, i) => state.apply(record, decoded.sizes[i]));
    return state.size;
  }

  private static async load(file: string, lock: OwnerLock, settings: Settings): Promise<FileOutbox> {
    await removeIfExists(compactionPath(file));
    const bytes = (await readFileIfExists(file)) ?? new Uint8Array(0);
    const decoded = decodeJournal(bytes, nativeChecksum);
    const recovery: FileOutboxRecovery = {
      discardedBytes: bytes.length - decoded.validEnd,
      defect: decoded.defect,
      salvagedCopy: null,
    };
    if (decoded.defect?.kind === 'corrupt') {
      if (settings.onCorrupt !== 'salvage') {
        throw new SyncError('OUTBOX_CORRUPT', `outbox journal is corrupt: ${decoded.defect.message}`, {
          path: file,
          offset: decoded.defect.offset,
          defect: decoded.defect.code,
        });
      }
      recovery.salvagedCopy = `${file}.corrupt-${Date.now()}`;
      await fsp.copyFile(file, recovery.salvagedCopy);
    }
    const state = new OutboxState();
    if (decoded.records.length === 0) {
      // A new journal, or one whose head never reached the disk: start it afresh, not anchored
      // (clientSeqs restart at 1 until the first welcome moves them above the relay's mark).
      const journalId = randomUUID();
      const head = frameRecord({ kind: 'head', format: 1, lastSeq: 0, anchored: false, journalId }, nativeChecksum);
      const handle = await fsp.open(file, 'w');
      try {
        await writeAll(handle, [head]);
        await handle.sync();
        await fsyncDirectory(dirname(file));
      } finally {
        await handle.close();
      }
      // Appends go through an 'a' handle, as for an existing journal: after a failed write is cut
      // off (append), the next record goes to the new end, not to the old position past a hole.
      const appender = await fsp.open(file, 'a');
      return new FileOutbox(file, appender, new OutboxState(0, false, journalId), head.size, lock, settings, recovery);
    }
    if (decoded.records[0]!.kind !== 'head') {
      throw new SyncError('OUTBOX_CORRUPT', 'outbox journal does not start with a head record', { path: file });
    }
    decoded.records.forEach((record, i) => state.apply(record, decoded.sizes[i]));
    if (decoded.validEnd < bytes.length) {
      // Cut the torn tail (or the salvaged rest) so new records follow the valid prefix.
      const handle = await fsp.open(file, 'r+');
      try {
        await handle.truncate(decoded.validEnd);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    const appender = await fsp.open(file, 'a');
    return new FileOutbox(file, appender, state, decoded.validEnd, lock, settings, recovery);
  }

  get size(): number {
    return this.state.size;
  }

  /** Highest clientSeq ever assigned (survives restarts and compaction). */
  get lastSeq(): number {
    return this.state.lastSeq;
  }

  /** See Outbox.journalId (a journal written before ids existed gets one when it opens). */
  get journalId(): string | undefined {
    return this.state.journalId;
  }

  /** False for a journal created afresh until its first `anchor` (see Outbox.anchor). */
  get anchored(): boolean {
    return this.state.anchored;
  }

  /** Current size of the journal file in bytes. */
  get journalBytes(): number {
    return this.fileBytes;
  }

  /** Counters since open: group commits written (one write + fsync each) and compactions. */
  get stats(): { commits: number; compactions: number } {
    return { commits: this.commits, compactions: this.compactions };
  }

  /** The last compaction failure (compaction is retried later; the journal stays valid). */
  get compactionError(): SyncError | null {
    return this.lastCompactionError;
  }

  /**
   * Queues changes; resolves once they are fsynced (see Outbox.enqueue). Returns one change per
   * input in input order. Rejects with OUTBOX_CLOSED after close(), OUTBOX_INVALID_CHANGE for a
   * malformed input, OUTBOX_RECORD_TOO_LARGE past the record size limit, OUTBOX_IO after a
   * write error.
   */
  enqueue(changes: ChangeInput[]): Promise<ClientChange[]> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    const invalid = changes.findIndex((c) => !isClientChange({ clientSeq: 1, baseSeq: c?.baseSeq, body: c?.body }));
    if (invalid >= 0) {
      return Promise.reject(new SyncError('OUTBOX_INVALID_CHANGE', 'not a valid change', { index: invalid }));
    }
    if (changes.length === 0) return Promise.resolve([]);
    return this.submit<ClientChange[]>((resolve, reject) => ({ kind: 'enqueue', inputs: changes, resolve, reject }));
  }

  pending(): ClientChange[] {
    return this.state.pending();
  }

  /** See Outbox.queued. */
  queued(): IterableIterator<ClientChange> {
    return this.state.queued();
  }

  /**
   * Drops acknowledged changes, durably. Seqs that are not queued (already acknowledged, or
   * replaced by coalescing) are ignored. Same rejections as enqueue.
   */
  acknowledge(clientSeqs: readonly number[]): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    if (!clientSeqs.some((s) => this.state.has(s))) return Promise.resolve();
    return this.submit<void>((resolve, reject) => ({ kind: 'ack', seqs: clientSeqs, resolve, reject }));
  }

  /**
   * Ties the numbering to the relay's `lastClientSeq` (see Outbox.anchor and
   * OutboxState.planAnchor); writes an anchor record (fsynced) only when something changes.
   * Calls made before it are committed first. Same rejections as enqueue, plus
   * OUTBOX_INVALID_ANCHOR for a mark that is not an integer >= 0.
   */
  anchor(relayLastClientSeq: number): Promise<AnchorOutcome> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    try {
      assertAnchorMark(relayLastClientSeq);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.submit<AnchorOutcome>((resolve, reject) => ({ kind: 'anchor', mark: relayLastClientSeq, resolve, reject }));
  }

  /**
   * Compacts now, whatever the garbage (normally compaction runs by itself after
   * acknowledgements). Resolves when done; a failed compaction leaves the journal as it was.
   */
  compact(): Promise<void> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    return this.submit<void>((resolve, reject) => ({ kind: 'compact', resolve, reject }));
  }

  /** Finishes calls already made, then releases the file and the lock. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.draining) await this.draining;
      try {
        await this.handle.close();
      } finally {
        await this.lock.release();
      }
    })();
    return this.closing;
  }

  private refusal(): SyncError | null {
    if (this.closing) return new SyncError('OUTBOX_CLOSED', 'the outbox is closed', { path: this.path });
    return this.failure;
  }

  private submit<T>(make: (resolve: (v: T) => void, reject: (e: unknown) => void) => Operation): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push(make(resolve, reject));
      if (!this.draining) this.draining = this.drain();
    });
  }

  /** One group commit per round: everything queued meanwhile shares one write and one fsync. */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        // An anchor renumbers what is queued, so it ends its batch: calls before it commit
        // first, calls after it are planned on the renumbered queue.
        const anchorAt = this.queue.findIndex((op) => op.kind === 'anchor');
        const batch = this.queue.splice(0, anchorAt >= 0 ? anchorAt + 1 : this.queue.length);
        try {
          if (this.failure) throw this.failure;
          const compacts = batch.filter((op): op is CompactOperation => op.kind === 'compact');
          const anchor = batch.find((op): op is AnchorOperation => op.kind === 'anchor');
          const committed = await this.commit(batch.filter((op) => op.kind !== 'compact' && op.kind !== 'anchor'));
          if (anchor) await this.anchorNow(anchor);
          if (compacts.length > 0) {
            const error = await this.compactNow();
            for (const op of compacts) {
              if (error) op.reject(error);
              else op.resolve();
            }
          } else if (committed.some((op) => op.kind === 'ack')) {
            await this.compactIfWorthIt();
          }
        } catch (err) {
          // Not expected (commit reports IO errors itself); never leave a caller hanging.
          for (const op of batch) op.reject(err);
        }
      }
    } finally {
      this.draining = null;
    }
  }

  /** Writes one batch and settles every operation in it. Returns the operations committed. */
  private async commit(batch: Operation[]): Promise<Operation[]> {
    let ops = batch;
    for (;;) {
      const acks = ops.filter((op) => op.kind === 'ack');
      const enqueues = ops.filter((op): op is EnqueueOperation => op.kind === 'enqueue');
      const ackRecord = this.state.planAck(acks.flatMap((op) => [...op.seqs]));
      const planned = this.state.planEnqueues(
        enqueues.map((op) => op.inputs),
        new Set(ackRecord?.seqs ?? []),
      );
      const encoded: EncodedRecord[] = [];
      if (ackRecord) encoded.push({ record: ackRecord, framed: frameRecord(ackRecord, nativeChecksum) });
      let refusal: SyncError | null = null;
      const failedAt = planned.findIndex((p) => {
        const framed = tryFrame(p.record);
        if (framed instanceof SyncError) {
          refusal = framed;
          return true;
        }
        encoded.push({ record: p.record, framed });
        return false;
      });
      if (failedAt >= 0) {
        // Refuse the one call whose record cannot be written and plan the rest again.
        const bad = enqueues[failedAt]!;
        bad.reject(refusal);
        ops = ops.filter((op) => op !== bad);
        continue;
      }
      if (encoded.length > 0) {
        const error = await this.append(encoded.map((r) => r.framed));
        if (error) {
          for (const op of ops) op.reject(error);
          return [];
        }
        for (const r of encoded) this.state.apply(r.record, r.framed.size);
      }
      let next = 0;
      for (const op of ops) {
        if (op.kind === 'enqueue') op.resolve(planned[next++]!.assigned);
        else if (op.kind === 'ack') op.resolve();
      }
      return ops;
    }
  }

  /** Writes the anchor record when one is needed and settles the call. */
  private async anchorNow(op: AnchorOperation): Promise<void> {
    if (this.failure) {
      op.reject(this.failure);
      return;
    }
    const { record, outcome } = this.state.planAnchor(op.mark);
    if (!record) {
      op.resolve(outcome);
      return;
    }
    const framed = frameRecord(record, nativeChecksum);
    const error = await this.append([framed]);
    if (error) {
      op.reject(error);
      return;
    }
    this.state.apply(record, framed.size);
    op.resolve(outcome);
  }

  /** Appends the records (one writev) and fsyncs; returns the error instead of throwing. */
  private async append(records: readonly FramedRecord[]): Promise<SyncError | null> {
    const size = records.reduce((n, r) => n + r.size, 0);
    try {
      await writeAll(this.handle, records);
    } catch (err) {
      const error = ioError('cannot write the outbox journal', this.path, err);
      try {
        // Cut a partial write off so later records do not land behind garbage.
        await this.handle.truncate(this.fileBytes);
        await this.handle.datasync();
        return error;
      } catch {
        return this.fail(error);
      }
    }
    try {
      await this.handle.datasync();
    } catch (err) {
      // After a failed fsync the page cache cannot be trusted: stop; reopening rereads the disk.
      return this.fail(ioError('cannot fsync the outbox journal', this.path, err));
    }
    this.fileBytes += size;
    this.commits++;
    return null;
  }

  private fail(error: SyncError): SyncError {
    this.failure ??= error;
    return error;
  }

  private async compactIfWorthIt(): Promise<void> {
    const garbage = Math.max(0, this.fileBytes - this.state.liveBytes);
    const threshold = Math.max(
      this.settings.compactMinGarbageBytes,
      this.state.liveBytes * this.settings.compactGarbageRatio,
      this.compactRetryAtGarbage,
    );
    if (garbage >= threshold && !this.failure) await this.compactNow();
  }

  /**
   * Rewrites the live changes to `<path>.compact`, fsyncs it, renames it over the journal and
   * fsyncs the directory: a crash at any point leaves either the old or the new journal.
   * Returns the error, if any; only a failure after the rename stops the outbox. `journalId`
   * gives the rewritten journal a new identity (after salvaging).
   */
  private async compactNow(journalId?: string): Promise<SyncError | null> {
    const temp = compactionPath(this.path);
    const head: JournalRecord = { kind: 'head', format: 1, lastSeq: this.state.lastSeq, anchored: this.state.anchored, journalId: journalId ?? this.state.journalId };
    const state = new OutboxState();
    let total = 0;
    try {
      const out = await fsp.open(temp, 'w');
      try {
        // One chunk of live changes framed and written at a time: the rewrite holds one record's
        // bytes, not the whole live set's.
        const write = async (record: JournalRecord): Promise<void> => {
          const framed = frameRecord(record, nativeChecksum);
          await writeAll(out, [framed]);
          state.apply(record, framed.size);
          total += framed.size;
        };
        await write(head);
        for (const changes of this.state.pendingChunks(this.settings.compactRecordChanges)) {
          const chunk: EnqueueRecord = { kind: 'enqueue', changes, drop: [] };
          await write(chunk);
        }
        await out.sync();
      } finally {
        await out.close();
      }
    } catch (err) {
      await removeIfExists(temp).catch(() => undefined);
      this.compactRetryAtGarbage = this.fileBytes + this.settings.compactMinGarbageBytes;
      this.lastCompactionError = isSyncError(err) ? err : ioError('cannot write the compacted outbox journal', this.path, err);
      return this.lastCompactionError;
    }
    try {
      await fsp.rename(temp, this.path);
      await fsyncDirectory(dirname(this.path));
      const old = this.handle;
      this.handle = await fsp.open(this.path, 'a');
      await old.close().catch(() => undefined);
    } catch (err) {
      return this.fail(ioError('cannot replace the outbox journal with its compacted copy', this.path, err));
    }
    this.state = state;
    this.fileBytes = total;
    this.compactRetryAtGarbage = 0;
    this.lastCompactionError = null;
    this.compactions++;
    return null;
  }
}

function compactionPath(file: string): string {
  return `${file}.compact`;
}

/** Writes every record's header and payload at the file position (one writev, repeated if short). */
async function writeAll(handle: fsp.FileHandle, records: readonly FramedRecord[]): Promise<void> {
  let buffers: Uint8Array[] = records.flatMap((r) => [r.header, r.payload]);
  while (buffers.length > 0) {
    const { bytesWritten } = await handle.writev(buffers);
    let skip = bytesWritten;
    let i = 0;
    while (i < buffers.length && skip >= buffers[i]!.length) skip -= buffers[i++]!.length;
    buffers = buffers.slice(i);
    if (buffers.length > 0 && skip > 0) buffers[0] = buffers[0]!.subarray(skip);
  }
}

function tryFrame(record: JournalRecord): FramedRecord | SyncError {
  try {
    return frameRecord(record, nativeChecksum);
  } catch (err) {
    if (isSyncError(err)) return err;
    return new SyncError('OUTBOX_INVALID_CHANGE', 'change cannot be written as JSON', {}, { cause: err });
  }
}

function ioError(message: string, path: string, cause: unknown): SyncError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new SyncError('OUTBOX_IO', message, { path, errno: code }, { cause });
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
