/**
 * ConflictResolver: how a device settles two versions of the same thing (DESIGN.md "Conflicts").
 *
 * - stream entries: union by key, later accepted change wins (`applyStreamChanges`);
 * - task metadata: per field by hybrid logical clock, counters take the maximum (`mergeTaskMeta`);
 * - text files: three-way merge against the last synced base; overlapping edits keep the
 *   local file and put the remote version beside it as a conflict copy;
 * - binary files: the newer version wins, the other becomes a conflict copy.
 * Nothing is dropped without a copy, no conflict marker is ever written into a file, and the
 * result depends only on the inputs (no clock, no randomness).
 */
import { SyncError } from '../errors';
import type { StreamPutBody, StreamTruncateBody } from '../model/changes';
import type { KeyedEntry } from '../tracking/stream-keys';
import { conflictCopyPath } from './conflict-copy';
import { mergeTaskMeta, type MetaState } from './metadata-merge';
import { applyStreamChanges } from './stream-merge';
import { mergeText } from './text-merge';

/** One version of a workspace file. */
export interface FileVersion {
  bytes: Uint8Array;
  /** sha256 hex of `bytes`. */
  hash: string;
  /** Modification time in ms (the binary rule's "newer"). */
  mtime: number;
  /** True when the scanner found it is not text. */
  binary: boolean;
}

export type FileConflictReason = 'overlapping-edit' | 'binary' | 'delete-vs-edit';

/** A conflict to show the user (who can open both versions in a diff view). */
export interface FileConflict {
  path: string;
  reason: FileConflictReason;
}

/** What to write after resolving a file. */
export interface FileResolution {
  /** The content the file gets. */
  keep: Uint8Array;
  /** Which version `keep` is: one side unchanged, or a clean three-way merge of both. */
  winner: 'local' | 'remote' | 'merged';
  /** The version that did not win, to be written beside the file. */
  conflictCopy?: { path: string; bytes: Uint8Array };
  /** Set when the user should look (an overlap, two binary versions, or an edit of a deleted file). */
  conflict?: FileConflict;
}

export interface ResolveFileInput {
  /** Workspace-relative path of the file. */
  path: string;
  /** The content both sides last synced (null/absent when unknown, e.g. both created the file). */
  base?: Uint8Array | null;
  /** This device's version; null when this device deleted the file. */
  local: FileVersion | null;
  /** The other device's version; null when it deleted the file. */
  remote: FileVersion | null;
  /** The device that wrote `remote` (names its conflict copy). */
  remoteDevice: string;
  /**
   * Time for the conflict copy's name. Pass a time both devices know (e.g. the conflicting
   * change's time), not the local clock, so every device names the copy the same.
   */
  at: Date;
}

export interface ConflictResolverOptions {
  /**
   * This device's id: names the conflict copy when the local version is the one kept aside
   * (a binary file whose remote version is newer). Default `local`; pass the real id so every
   * device names that copy the same.
   */
  deviceId?: string;
}

export { conflictCopyPath, isConflictCopy } from './conflict-copy';

export class ConflictResolver {
  private readonly deviceId: string;

  constructor(options: ConflictResolverOptions = {}) {
    this.deviceId = options.deviceId ?? 'local';
  }

  /** Stream entries: see `applyStreamChanges` (changes in relay seq order). */
  applyStream(entries: readonly KeyedEntry[], changes: ReadonlyArray<StreamPutBody | StreamTruncateBody>): KeyedEntry[] {
    return applyStreamChanges(entries, changes);
  }

  /** Task metadata: see `mergeTaskMeta`. */
  mergeMeta(local: MetaState, remote: MetaState): MetaState {
    return mergeTaskMeta(local, remote);
  }

  /**
   * Settles two versions of a workspace file:
   * 1. same content: keep it;
   * 2. one side equals the base: the other side's version (it alone changed);
   * 3. one side deleted, the other edited: keep the edit (`delete-vs-edit`, no copy needed);
   * 4. text on all sides: diff3 against the base; a clean merge is kept; an overlap (or no
   *    base to merge from) keeps local and writes remote as a conflict copy (`overlapping-edit`);
   * 5. binary: the later mtime wins (equal mtimes: the larger hash), the other becomes a
   *    conflict copy named after the device that wrote it (`binary`).
   * Throws SyncError CONFLICT_NOTHING_TO_RESOLVE when both sides deleted the file.
   */
  resolveFile(input: ResolveFileInput): FileResolution {
    const { path, local, remote } = input;
    if (!local && !remote) {
      throw new SyncError('CONFLICT_NOTHING_TO_RESOLVE', 'both versions of the file are deleted', { path });
    }
    if (!local || !remote) {
      const edited = (local ?? remote)!;
      return { keep: edited.bytes, winner: local ? 'local' : 'remote', conflict: { path, reason: 'delete-vs-edit' } };
    }
    if (local.hash === remote.hash) return { keep: local.bytes, winner: 'local' };
    const base = input.base ?? null;
    if (base && equalBytes(base, local.bytes)) return { keep: remote.bytes, winner: 'remote' };
    if (base && equalBytes(base, remote.bytes)) return { keep: local.bytes, winner: 'local' };

    const texts = local.binary || remote.binary ? null : decodeAll(base, local.bytes, remote.bytes);
    if (!texts) return this.newerWins(input, local, remote);
    if (texts.base !== null) {
      const merged = mergeText(texts.base, texts.local, texts.remote);
      if (merged.kind === 'clean') return { keep: new TextEncoder().encode(merged.text), winner: 'merged' };
    }
    return {
      keep: local.bytes,
      winner: 'local',
      conflictCopy: { path: conflictCopyPath(path, input.at, input.remoteDevice), bytes: remote.bytes },
      conflict: { path, reason: 'overlapping-edit' },
    };
  }

  private newerWins(input: ResolveFileInput, local: FileVersion, remote: FileVersion): FileResolution {
    const localWins = local.mtime !== remote.mtime ? local.mtime > remote.mtime : local.hash > remote.hash;
    const [kept, aside, asideDevice] = localWins ? [local, remote, input.remoteDevice] : [remote, local, this.deviceId];
    return {
      keep: kept.bytes,
      winner: localWins ? 'local' : 'remote',
      conflictCopy: { path: conflictCopyPath(input.path, input.at, asideDevice), bytes: aside.bytes },
      conflict: { path: input.path, reason: 'binary' },
    };
  }
}

/** The three versions as text, or null when local or remote is not valid UTF-8 text (a base that is not text counts as no base). */
function decodeAll(base: Uint8Array | null, local: Uint8Array, remote: Uint8Array): { base: string | null; local: string; remote: string } | null {
  const localText = decodeText(local);
  const remoteText = localText === null ? null : decodeText(remote);
  if (localText === null || remoteText === null) return null;
  return { base: base ? decodeText(base) : null, local: localText, remote: remoteText };
}

/** UTF-8 text (byte-order mark kept), or null for bytes that are not text (invalid UTF-8 or NUL). */
export function decodeText(bytes: Uint8Array): string | null {
  if (bytes.includes(0)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
