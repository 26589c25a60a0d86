/**
 * Stable error and integrity-problem codes of HybridStorage (the device's sync engine).
 * Callers and tests branch on these codes, never on messages.
 */
export const StorageErrorCode = {
  /** The persisted sync state is not valid JSON or not in a known shape. */
  STATE_CORRUPT: 'STORAGE_STATE_CORRUPT',
  /** The persisted sync state could not be read or written. */
  STATE_IO: 'STORAGE_STATE_IO',
  /** No task store is configured for the task's source. */
  UNKNOWN_SOURCE: 'STORAGE_UNKNOWN_SOURCE',
  /** A blob a remote change refers to is not in the blob store (yet). */
  BLOB_MISSING: 'STORAGE_BLOB_MISSING',
  /** The storage was closed; no further calls are accepted. */
  CLOSED: 'STORAGE_CLOSED',
  /** The transport failed during a sync step; nothing was lost, the step can be retried. */
  SYNC_FAILED: 'STORAGE_SYNC_FAILED',
  /**
   * Every id tried for a task conflict copy is taken by another task that is not that copy
   * (should never happen: the last candidates are UUIDs derived from a hash). The page stays
   * journaled and is applied again at the next operation.
   */
  COPY_ID_TAKEN: 'STORAGE_COPY_ID_TAKEN',
} as const;

export type StorageErrorCodeValue = (typeof StorageErrorCode)[keyof typeof StorageErrorCode];

/** Codes of problems `validateDataIntegrity()` reports (it never throws for them). */
export const IntegrityCode = {
  /** A task the sync state tracks has no folder in the store (never treated as a delete). */
  TASK_MISSING: 'STORAGE_INTEGRITY_TASK_MISSING',
  /** A task in the store is not in the sync state (not yet synced). */
  TASK_UNTRACKED: 'STORAGE_INTEGRITY_TASK_UNTRACKED',
  /** A stream entry's hash on disk differs from the synced hash (an unsynced local edit). */
  ENTRY_HASH_MISMATCH: 'STORAGE_INTEGRITY_ENTRY_HASH_MISMATCH',
  /** A synced entry is missing on disk (a stale rewrite not yet restored). */
  ENTRY_MISSING: 'STORAGE_INTEGRITY_ENTRY_MISSING',
  /** An entry on disk is not in the sync state (not yet synced). */
  ENTRY_UNTRACKED: 'STORAGE_INTEGRITY_ENTRY_UNTRACKED',
  /** A synced HistoryItem field differs from the store's value. */
  META_MISMATCH: 'STORAGE_INTEGRITY_META_MISMATCH',
  /** A task's files could not be read (corrupt JSON, ...). */
  TASK_UNREADABLE: 'STORAGE_INTEGRITY_TASK_UNREADABLE',
  /** A workspace file differs from its synced manifest entry. */
  FILE_HASH_MISMATCH: 'STORAGE_INTEGRITY_FILE_HASH_MISMATCH',
  /** A synced workspace file is missing on disk. */
  FILE_MISSING: 'STORAGE_INTEGRITY_FILE_MISSING',
  /** A synced file's content is not in the blob store (cannot be re-sent or merged). */
  BLOB_MISSING: 'STORAGE_INTEGRITY_BLOB_MISSING',
  /** Entries from another device are missing from the local entry cache (cannot restore). */
  CACHE_MISSING: 'STORAGE_INTEGRITY_CACHE_MISSING',
  /** The outbox holds changes not yet acknowledged. Informational. */
  OUTBOX_PENDING: 'STORAGE_INTEGRITY_OUTBOX_PENDING',
} as const;

export type IntegrityCodeValue = (typeof IntegrityCode)[keyof typeof IntegrityCode];
