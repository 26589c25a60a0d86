/**
 * Port: the files of one synced workspace folder, as HybridStorage sees them (DESIGN.md
 * "Data model": workspace file). Paths are relative, normalised, '/'-separated. The Node
 * adapter lives with the file watcher; `MemoryWorkspaceFiles` serves tests and simulations.
 */
import type { WorkspaceId } from '../ids';
import type { ManifestEntry } from '../tracking/manifest';

/** One file as listed: enough to tell whether it changed without reading it. */
export interface WorkspaceFileInfo {
  path: string;
  size: number;
  /** POSIX permission bits (0o644, 0o755, ...). */
  mode: number;
  /** Last modification, ms since the epoch. */
  mtime: number;
}

export interface WorkspaceFiles {
  readonly workspaceId: WorkspaceId;
  /** Every synced file (ignored and conflict-temp files left out by the adapter). */
  list(): Promise<WorkspaceFileInfo[]>;
  /** Size, mode and mtime of one file, or null when it does not exist. */
  stat(path: string): Promise<WorkspaceFileInfo | null>;
  /** The file's bytes, or null when it does not exist. */
  read(path: string): Promise<Uint8Array | null>;
  /** Creates or replaces the file atomically (parent folders created as needed). */
  write(path: string, bytes: Uint8Array, meta: { mode: number; mtime: number }): Promise<void>;
  /** Removes the file; a no-op when it does not exist. */
  remove(path: string): Promise<void>;
  /**
   * Optional: the whole manifest with hashes, reusing `previous` hashes of unchanged files (an
   * adapter with a faster scanner than list-then-read offers it; HybridStorage prefers it).
   */
  scan?(previous: ReadonlyMap<string, ManifestEntry>): Promise<Map<string, ManifestEntry>>;
}

interface MemoryFile {
  bytes: Uint8Array;
  mode: number;
  mtime: number;
}

/** Workspace files in memory (tests, the convergence simulation). Copies bytes in and out. */
export class MemoryWorkspaceFiles implements WorkspaceFiles {
  private readonly files = new Map<string, MemoryFile>();

  constructor(readonly workspaceId: WorkspaceId) {}

  async list(): Promise<WorkspaceFileInfo[]> {
    return [...this.files].map(([path, f]) => ({ path, size: f.bytes.length, mode: f.mode, mtime: f.mtime }));
  }

  async stat(path: string): Promise<WorkspaceFileInfo | null> {
    const f = this.files.get(path);
    return f ? { path, size: f.bytes.length, mode: f.mode, mtime: f.mtime } : null;
  }

  async read(path: string): Promise<Uint8Array | null> {
    const file = this.files.get(path);
    return file ? file.bytes.slice() : null;
  }

  async write(path: string, bytes: Uint8Array, meta: { mode: number; mtime: number }): Promise<void> {
    this.files.set(path, { bytes: bytes.slice(), mode: meta.mode, mtime: meta.mtime });
  }

  async remove(path: string): Promise<void> {
    this.files.delete(path);
  }

  /** Synchronous read for assertions. */
  peek(path: string): Uint8Array | undefined {
    return this.files.get(path)?.bytes;
  }

  /** Paths in sorted order (for assertions). */
  paths(): string[] {
    return [...this.files.keys()].sort();
  }
}
