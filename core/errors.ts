/**
 * The one error type that crosses module boundaries in roo-sync.
 *
 * Every error carries a stable, machine-readable `code` (listed once in docs/errors.md).
 * Tests and callers branch on `code`, never on `message`.
 */
export class SyncError extends Error {
  override readonly name = 'SyncError';

  constructor(
    readonly code: string,
    message: string,
    /** Extra facts for logs and error frames; never secrets. */
    readonly details?: Readonly<Record<string, unknown>>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isSyncError(value: unknown, code?: string): value is SyncError {
  return value instanceof SyncError && (code === undefined || value.code === code);
}
