/**
 * A BlobStore in memory: the local entry cache of tests and the relay's blob store in the
 * convergence simulation. Verifies every put against its hash, like the real stores.
 */
import { SyncError } from '../errors';
import { sha256Hex } from '../model/hash';
import type { BlobStore } from '../ports/blob-store';

export class MemoryBlobStore implements BlobStore {
  private readonly blobs = new Map<string, Uint8Array>();

  async has(hash: string): Promise<boolean> {
    return this.blobs.has(hash);
  }

  async put(hash: string, bytes: Uint8Array): Promise<void> {
    if (sha256Hex(bytes) !== hash) {
      throw new SyncError('BLOB_HASH_MISMATCH', 'blob content does not match its hash', { hash });
    }
    if (!this.blobs.has(hash)) this.blobs.set(hash, bytes.slice());
  }

  async get(hash: string): Promise<Uint8Array | null> {
    return this.blobs.get(hash)?.slice() ?? null;
  }

  /** Number of distinct blobs held. */
  get size(): number {
    return this.blobs.size;
  }
}
