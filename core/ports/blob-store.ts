/** Port: content-addressed storage of file contents (sha256 hex keys). */
export interface BlobStore {
  has(hash: string): Promise<boolean>;
  /** Stores bytes under their sha256; rejects (BLOB_HASH_MISMATCH) when `hash` is not theirs. */
  put(hash: string, bytes: Uint8Array): Promise<void>;
  /** The bytes, or null when unknown. */
  get(hash: string): Promise<Uint8Array | null>;
}
