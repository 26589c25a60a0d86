/**
 * The device's durable entry cache: the content of synced stream entries by hash, kept in its
 * data folder so that what the rule "a stale rewrite is not a deletion" restores from survives
 * a restart (an in-memory cache forgot it, and entries were lost silently).
 *
 * Layout: `<dir>/<xx>.pack` for the first two hex digits `xx` of the hash (256 shards), each an
 * append-only file of records `[u32 length][32-byte sha256][entry JSON text]`. A shard's index
 * (hash -> offset, in typed arrays: EntryCacheIndex) is read on first use by walking the record
 * headers. A record cut short by a
 * crash at the end of a shard is cut off when the shard is opened; every read checks the bytes
 * against their sha256, so a damaged record reads as missing (and the caller fetches the entry
 * back from the relay) rather than as wrong content. Writes are not fsynced one by one: losing
 * the newest records to a power cut only means fetching them from the relay.
 *
 * Bounded and compacted: `compact(live)` rewrites shards to hold only the hashes the sync state
 * still names (current and earlier versions), and if the cache is still over `maxBytes`, keeps
 * the newest records of each shard within its share. Entries dropped that way are fetched from
 * the relay when needed. Codes: ENTRY_CACHE_IO.
 */
import { closeSync, openSync, readSync, fstatSync, ftruncateSync } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { SyncError } from '../../errors';
import { sha256Hex, SHA256_HEX } from '../../model/hash';
import type { BlobStore } from '../../ports/blob-store';
import { EntryCacheIndex, type Slot } from '../../storage/entry-cache-index';

const HEADER_BYTES = 36;
const SHARDS = 256;

interface Shard {
  path: string;
  index: EntryCacheIndex;
  /** Bytes of the file (records appended so far). */
  size: number;
  handle: FileHandle | null;
}

export interface FsEntryCacheOptions {
  /** The cache folder (created when missing). */
  dir: string;
  /** Upper bound of the cache on disk after compaction. Default 512 MiB. */
  maxBytes?: number;
}

export interface EntryCacheCompaction {
  /** Records kept and dropped. */
  kept: number;
  dropped: number;
  /** Bytes on disk before and after. */
  bytesBefore: number;
  bytesAfter: number;
}

export class FsEntryCache implements BlobStore {
  private readonly shards = new Map<number, Shard>();
  private readonly maxBytes: number;
  /** One operation at a time: appends and compaction must not interleave. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(private readonly options: FsEntryCacheOptions) {
    this.maxBytes = options.maxBytes ?? 512 * 1024 * 1024;
  }

  static async open(options: FsEntryCacheOptions): Promise<FsEntryCache> {
    try {
      await mkdir(options.dir, { recursive: true });
    } catch (err) {
      throw ioError(options.dir, 'create', err);
    }
    return new FsEntryCache(options);
  }

  get dir(): string {
    return this.options.dir;
  }

  async has(hash: string): Promise<boolean> {
    if (!SHA256_HEX.test(hash)) return false;
    return this.serial(async () => this.shard(hash).index.has(hash));
  }

  async put(hash: string, bytes: Uint8Array): Promise<void> {
    if (!SHA256_HEX.test(hash) || sha256Hex(bytes) !== hash) {
      throw new SyncError('BLOB_HASH_MISMATCH', 'entry content does not match its hash', { hash });
    }
    await this.serial(async () => {
      const shard = this.shard(hash);
      if (shard.index.has(hash)) return;
      const record = Buffer.allocUnsafe(HEADER_BYTES + bytes.length);
      record.writeUInt32BE(bytes.length, 0);
      record.write(hash, 4, 32, 'hex');
      record.set(bytes, HEADER_BYTES);
      try {
        shard.handle ??= await open(shard.path, 'a+');
        await shard.handle.write(record, 0, record.length, null);
      } catch (err) {
        throw ioError(shard.path, 'append to', err);
      }
      shard.index.set(hash, { offset: shard.size + HEADER_BYTES, length: bytes.length });
      shard.size += record.length;
    });
  }

  async get(hash: string): Promise<Uint8Array | null> {
    if (!SHA256_HEX.test(hash)) return null;
    return this.serial(async () => {
      const shard = this.shard(hash);
      const slot = shard.index.get(hash);
      if (!slot) return null;
      const bytes = Buffer.allocUnsafe(slot.length);
      try {
        shard.handle ??= await open(shard.path, 'a+');
        const { bytesRead } = await shard.handle.read(bytes, 0, slot.length, slot.offset);
        if (bytesRead !== slot.length || sha256Hex(bytes) !== hash) {
          shard.index.delete(hash);
          return null;
        }
      } catch (err) {
        throw ioError(shard.path, 'read', err);
      }
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    });
  }

  /** Bytes on disk across every shard. */
  async sizeOnDisk(): Promise<number> {
    let total = 0;
    for (const name of await this.shardFiles()) total += (await stat(join(this.options.dir, name))).size;
    return total;
  }

  /**
   * Keeps only the records whose hash `isLive` accepts (what the sync state still names), then
   * bounds the cache to `maxBytes` by dropping each shard's oldest records beyond its share.
   */
  async compact(isLive: (hash: string) => boolean): Promise<EntryCacheCompaction> {
    return this.serial(async () => {
      const report: EntryCacheCompaction = { kept: 0, dropped: 0, bytesBefore: 0, bytesAfter: 0 };
      const share = Math.floor(this.maxBytes / SHARDS);
      for (const name of await this.shardFiles()) {
        const number = parseInt(name.slice(0, 2), 16);
        const shard = this.shardNumber(number);
        report.bytesBefore += shard.size;
        const live = (await this.indexedRecords(shard)).filter(([hash]) => isLive(hash));
        let bytes = live.reduce((sum, [, slot]) => sum + slot.length + HEADER_BYTES, 0);
        while (bytes > share && live.length > 0) bytes -= live.shift()![1].length + HEADER_BYTES;
        report.dropped += shard.index.size - live.length;
        report.kept += live.length;
        if (live.length === shard.index.size && bytes === shard.size) {
          report.bytesAfter += shard.size;
          continue;
        }
        await this.rewrite(shard, live);
        report.bytesAfter += shard.size;
      }
      return report;
    });
  }

  /** Closes the open shard files. Idempotent; later calls fail with ENTRY_CACHE_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    for (const shard of this.shards.values()) {
      await shard.handle?.close().catch(() => undefined);
      shard.handle = null;
    }
  }

  // ------------------------------------------------------------------ internals

  private serial<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new SyncError('ENTRY_CACHE_CLOSED', 'the entry cache is closed'));
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private shard(hash: string): Shard {
    return this.shardNumber(parseInt(hash.slice(0, 2), 16));
  }

  /** The shard's index, read from its file on first use (a torn last record is cut off). */
  private shardNumber(number: number): Shard {
    const known = this.shards.get(number);
    if (known) return known;
    const path = join(this.options.dir, `${number.toString(16).padStart(2, '0')}.pack`);
    const shard: Shard = { path, index: new EntryCacheIndex(), size: 0, handle: null };
    let fd: number | undefined;
    try {
      fd = openSync(path, 'a+');
      const fileSize = fstatSync(fd).size;
      const header = Buffer.allocUnsafe(HEADER_BYTES);
      let at = 0;
      while (at + HEADER_BYTES <= fileSize) {
        if (readSync(fd, header, 0, HEADER_BYTES, at) !== HEADER_BYTES) break;
        const length = header.readUInt32BE(0);
        if (at + HEADER_BYTES + length > fileSize) break;
        shard.index.set(header.toString('hex', 4, HEADER_BYTES), { offset: at + HEADER_BYTES, length });
        at += HEADER_BYTES + length;
      }
      if (at < fileSize) ftruncateSync(fd, at);
      shard.size = at;
    } catch (err) {
      throw ioError(path, 'open', err);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    this.shards.set(number, shard);
    return shard;
  }

  /** Replaces the shard's file with `keep` (temp file, rename). */
  private async rewrite(shard: Shard, keep: ReadonlyArray<[string, Slot]>): Promise<void> {
    const temp = `${shard.path}.compact.tmp`;
    const index = new EntryCacheIndex(keep.length);
    let size = 0;
    try {
      shard.handle ??= await open(shard.path, 'a+');
      const out = await open(temp, 'w');
      try {
        for (const [hash, slot] of keep) {
          const record = Buffer.allocUnsafe(HEADER_BYTES + slot.length);
          await shard.handle.read(record, HEADER_BYTES, slot.length, slot.offset);
          record.writeUInt32BE(slot.length, 0);
          record.write(hash, 4, 32, 'hex');
          await out.write(record, 0, record.length, size);
          index.set(hash, { offset: size + HEADER_BYTES, length: slot.length });
          size += record.length;
        }
        await out.sync();
      } finally {
        await out.close();
      }
      await shard.handle.close();
      shard.handle = null;
      if (size === 0) {
        await unlink(temp);
        await unlink(shard.path).catch(() => undefined);
      } else {
        await rename(temp, shard.path);
      }
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw ioError(shard.path, 'compact', err);
    }
    shard.index = index;
    shard.size = size;
  }

  /** The shard's records its index holds (valid, not superseded), by hash, in file order. */
  private async indexedRecords(shard: Shard): Promise<Array<[string, Slot]>> {
    const out: Array<[string, Slot]> = [];
    if (shard.size === 0) return out;
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    try {
      shard.handle ??= await open(shard.path, 'a+');
      for (let at = 0; at + HEADER_BYTES <= shard.size; ) {
        const { bytesRead } = await shard.handle.read(header, 0, HEADER_BYTES, at);
        if (bytesRead !== HEADER_BYTES) break;
        const length = header.readUInt32BE(0);
        const hash = header.toString('hex', 4, HEADER_BYTES);
        const offset = at + HEADER_BYTES;
        if (shard.index.get(hash)?.offset === offset) out.push([hash, { offset, length }]);
        at = offset + length;
      }
    } catch (err) {
      throw ioError(shard.path, 'read', err);
    }
    return out;
  }

  private async shardFiles(): Promise<string[]> {
    try {
      return (await readdir(this.options.dir)).filter((name) => /^[0-9a-f]{2}\.pack$/.test(name));
    } catch (err) {
      throw ioError(this.options.dir, 'list', err);
    }
  }
}

function ioError(path: string, action: string, err: unknown): SyncError {
  return new SyncError('ENTRY_CACHE_IO', `cannot ${action} ${path}: ${(err as Error).message}`, { path }, { cause: err });
}
