/**
 * Workspace file sync for HybridStorage: detects local file changes against the synced
 * manifest, applies remote file changes, and settles relay conflicts through the
 * ConflictResolver (text: three-way merge against the base; binary: newer wins; the losing
 * version is kept as a local conflict copy, which is never synced).
 */
import { SyncError } from '../errors';
import type { ClientChange, FileDeleteBody, FilePutBody, ServerChange } from '../model/changes';
import { sha256Hex } from '../model/hash';
import { isConflictCopy } from '../merge/conflict-copy';
import { decodeText, type ConflictResolver, type FileVersion } from '../merge/conflict-resolver';
import { normaliseRemotePath } from '../paths/remote-path';
import { diffManifest, type ManifestEntry } from '../tracking/manifest';
import { StorageErrorCode } from './storage-errors';
import type { FileSyncState } from './sync-state';
import type { SyncContext } from './sync-context';
import type { PlannedChange } from './task-detect';
import type { PendingIndex } from './task-apply';
import type { WorkspaceFiles } from './workspace-files';

/** A scanned file with its bytes when they were read during the scan. */
interface ScannedFile extends ManifestEntry {
  bytes?: Uint8Array;
}

/** True when the content is not UTF-8 text (a NUL byte or invalid UTF-8). */
export function isBinaryContent(bytes: Uint8Array): boolean {
  return decodeText(bytes) === null;
}

/**
 * The workspace as a manifest. A file whose size, mode and mtime match its synced entry keeps
 * the synced hash without being read again. Conflict copies are left out (never synced).
 */
export async function scanWorkspace(ctx: SyncContext, files: WorkspaceFiles): Promise<Map<string, ScannedFile>> {
  if (files.scan) {
    const previous = new Map<string, ManifestEntry>();
    for (const f of ctx.state.filesOf(files.workspaceId)) {
      if (!f.deleted) previous.set(f.path, { path: f.path, hash: f.hash, size: f.size, mode: f.mode, mtime: f.mtime, binary: f.binary });
    }
    const scanned = await files.scan(previous);
    for (const path of scanned.keys()) if (isConflictCopy(path)) scanned.delete(path);
    return scanned;
  }
  const out = new Map<string, ScannedFile>();
  for (const info of await files.list()) {
    if (isConflictCopy(info.path)) continue;
    const synced = ctx.state.getFile(files.workspaceId, info.path);
    if (synced && !synced.deleted && synced.size === info.size && synced.mode === info.mode && synced.mtime === info.mtime) {
      out.set(info.path, { path: info.path, hash: synced.hash, size: info.size, mode: info.mode, mtime: info.mtime, binary: synced.binary });
      continue;
    }
    const bytes = await files.read(info.path);
    if (bytes === null) continue;
    out.set(info.path, {
      path: info.path,
      hash: sha256Hex(bytes),
      size: bytes.length,
      mode: info.mode,
      mtime: info.mtime,
      binary: isBinaryContent(bytes),
      bytes,
    });
  }
  return out;
}

/**
 * Local file changes to queue (`paths`: only these). Contents go to the blob store first, so a
 * queued `file.put` never names a blob the relay cannot serve. Updates the sync state in memory.
 */
export async function detectFileChanges(ctx: SyncContext, files: WorkspaceFiles, paths?: ReadonlySet<string>): Promise<PlannedChange[]> {
  const workspaceId = files.workspaceId;
  const scanned = await scanWorkspace(ctx, files);
  const synced = new Map<string, ManifestEntry>();
  for (const f of ctx.state.filesOf(workspaceId)) {
    if (!f.deleted) synced.set(f.path, { path: f.path, hash: f.hash, size: f.size, mode: f.mode, mtime: f.mtime, binary: f.binary });
  }
  const diff = diffManifest(scanned, synced);
  const changes: PlannedChange[] = [];
  if (scanned.size === 0) {
    // Empty is not a deletion: a wiped folder gets its synced files back, as a new device would.
    for (const entry of synced.values()) {
      if (paths && !paths.has(entry.path)) continue;
      const bytes = await ctx.blobs.get(entry.hash);
      if (bytes !== null) await files.write(entry.path, bytes, { mode: entry.mode, mtime: entry.mtime });
    }
  }
  for (const entry of diff.changed) {
    if (paths && !paths.has(entry.path)) continue;
    const bytes = (scanned.get(entry.path)!.bytes ?? (await files.read(entry.path)));
    if (bytes === null || sha256Hex(bytes) !== entry.hash) continue; // changed again while scanning: next round
    if (!(await ctx.blobs.has(entry.hash))) await ctx.blobs.put(entry.hash, bytes);
    const before = ctx.state.getFile(workspaceId, entry.path);
    const body: FilePutBody = {
      type: 'file.put',
      workspaceId,
      path: entry.path,
      hash: entry.hash,
      size: entry.size,
      mode: entry.mode,
      mtime: entry.mtime,
      binary: entry.binary,
    };
    changes.push({ body, baseSeq: before?.baseSeq || null });
    ctx.state.setFile({ ...baseOf(before, workspaceId, entry.path), ...entryFields(entry), deleted: false });
  }
  for (const path of diff.deleted) {
    if (paths && !paths.has(path)) continue;
    const before = ctx.state.getFile(workspaceId, path)!;
    const body: FileDeleteBody = { type: 'file.delete', workspaceId, path };
    changes.push({ body, baseSeq: before.baseSeq || null });
    before.deleted = true;
  }
  return changes;
}

/**
 * Applies remote file changes (one workspace, seq order). A file this device changed since it
 * last synced is left alone: its queued change meets the remote one at the relay as a conflict
 * and is settled there, with the base it was made on. Returns paths refused as unsafe.
 */
export async function applyFileChanges(
  ctx: SyncContext,
  files: WorkspaceFiles,
  changes: readonly ServerChange[],
  pending: PendingIndex,
): Promise<string[]> {
  const refused: string[] = [];
  for (const change of changes) {
    const body = change.body;
    if (body.type !== 'file.put' && body.type !== 'file.delete') continue;
    let path: string;
    try {
      path = normaliseRemotePath(body.path);
    } catch {
      refused.push(String(body.path));
      continue;
    }
    if (path !== body.path || isConflictCopy(path)) {
      refused.push(body.path);
      continue;
    }
    const synced = ctx.state.getFile(files.workspaceId, path);
    if (synced && synced.baseSeq >= change.seq) continue;
    if (pending.entities.has(change.entity)) {
      noteSkipped(ctx, files, path, change.seq);
      continue;
    }
    const disk = await files.read(path);
    const diskHash = disk === null ? null : sha256Hex(disk);
    const lastSeen = synced && !synced.deleted ? synced.hash : null;
    if (body.type === 'file.put') {
      if (diskHash !== body.hash) {
        // A local edit not yet queued meets the remote one at the relay and merges there. A missing
        // file with no queued delete is an absence (empty is not a deletion): take the remote version.
        if (diskHash !== lastSeen && diskHash !== null) {
          noteSkipped(ctx, files, path, change.seq);
          continue;
        }
        const bytes = await ctx.blobs.get(body.hash);
        if (bytes === null) {
          throw new SyncError(StorageErrorCode.BLOB_MISSING, `blob of ${path} is not in the blob store`, { path, hash: body.hash });
        }
        await files.write(path, bytes, { mode: body.mode, mtime: body.mtime });
      }
      recordPut(ctx, files, body, change.seq);
    } else {
      if (diskHash !== null) {
        if (diskHash !== lastSeen) {
          noteSkipped(ctx, files, path, change.seq);
          continue;
        }
        await files.remove(path);
      }
      recordDelete(ctx, files, path, change.seq);
    }
  }
  return refused;
}

/**
 * Settles one relay conflict on a file: `ours` was refused because the relay holds `current`.
 * Writes the result (and any conflict copy) and returns the change to queue, if any, built on
 * `current`.
 */
export async function resolveFileConflict(
  ctx: SyncContext,
  files: WorkspaceFiles,
  resolver: ConflictResolver,
  ours: ClientChange,
  current: ServerChange,
): Promise<PlannedChange[]> {
  const body = ours.body as FilePutBody | FileDeleteBody;
  const path = body.path;
  const synced = ctx.state.getFile(files.workspaceId, path);
  const remoteBody = current.body as FilePutBody | FileDeleteBody;
  const disk = await files.read(path);
  const info = disk === null ? undefined : ((await files.stat(path)) ?? undefined);
  const local: FileVersion | null =
    disk === null ? null : { bytes: disk, hash: sha256Hex(disk), mtime: info?.mtime ?? ctx.now(), binary: isBinaryContent(disk) };
  let remote: FileVersion | null = null;
  if (remoteBody.type === 'file.put') {
    const bytes = await ctx.blobs.get(remoteBody.hash);
    if (bytes === null) {
      throw new SyncError(StorageErrorCode.BLOB_MISSING, `blob of ${path} is not in the blob store`, { path, hash: remoteBody.hash });
    }
    remote = { bytes, hash: remoteBody.hash, mtime: remoteBody.mtime, binary: remoteBody.binary };
  }
  // The result is built on `current`: it is the new base.
  const adoptCurrent = (): void => {
    if (remoteBody.type === 'file.put') recordPut(ctx, files, remoteBody, current.seq);
    else recordDelete(ctx, files, path, current.seq);
  };
  if (!local && !remote) {
    adoptCurrent();
    return [];
  }
  const base = synced && synced.baseHash ? await ctx.blobs.get(synced.baseHash) : null;
  const at = new Date(remoteBody.type === 'file.put' ? remoteBody.mtime : ctx.now());
  const resolution = resolver.resolveFile({ path, base, local, remote, remoteDevice: current.deviceId, at });
  adoptCurrent();
  const mode = info?.mode ?? (remoteBody.type === 'file.put' ? remoteBody.mode : 0o644);
  if (resolution.conflictCopy) {
    const copyPath = await freeCopyPath(files, resolution.conflictCopy.path, resolution.conflictCopy.bytes);
    await files.write(copyPath, resolution.conflictCopy.bytes, { mode, mtime: ctx.now() });
    const kept = resolution.keep;
    ctx.state.conflicts.push({
      workspaceId: files.workspaceId,
      path,
      copyPath,
      keptHash: sha256Hex(kept),
      copyHash: sha256Hex(resolution.conflictCopy.bytes),
      kind: resolution.conflict?.reason === 'binary' ? 'binary' : 'text',
      copyFrom: resolution.winner === 'remote' ? ctx.deviceId : current.deviceId,
      at: ctx.now(),
    });
  }
  const keptHash = sha256Hex(resolution.keep);
  if (remote && keptHash === remote.hash) {
    if (!local || local.hash !== keptHash) await files.write(path, resolution.keep, { mode: (remoteBody as FilePutBody).mode, mtime: (remoteBody as FilePutBody).mtime });
    return [];
  }
  // Our version (or a merge) wins: write it if it is new and queue it on top of `current`.
  const mtime = resolution.winner === 'merged' ? ctx.now() : (local?.mtime ?? ctx.now());
  if (!local || local.hash !== keptHash) await files.write(path, resolution.keep, { mode, mtime });
  if (!(await ctx.blobs.has(keptHash))) await ctx.blobs.put(keptHash, resolution.keep);
  const put: FilePutBody = {
    type: 'file.put',
    workspaceId: files.workspaceId,
    path,
    hash: keptHash,
    size: resolution.keep.length,
    mode,
    mtime,
    binary: isBinaryContent(resolution.keep),
  };
  const state = ctx.state.getFile(files.workspaceId, path)!;
  Object.assign(state, { hash: put.hash, size: put.size, mode: put.mode, mtime: put.mtime, binary: put.binary, deleted: false });
  return [{ body: put, baseSeq: current.seq }];
}

/** Records an acknowledged version of this device's own file change as the new base. */
export function recordFileAck(ctx: SyncContext, body: FilePutBody | FileDeleteBody, seq: number): void {
  const state = ctx.state.getFile(body.workspaceId, body.path);
  if (!state || state.baseSeq >= seq) return;
  state.baseSeq = seq;
  state.baseDeleted = body.type === 'file.delete';
  state.baseHash = body.type === 'file.put' ? body.hash : '';
}

/**
 * Notes that the remote change `seq` to `path` was skipped for a local change (see
 * FileSyncState.skippedSeq): a local change that never reaches the relay must not take it along.
 */
function noteSkipped(ctx: SyncContext, files: WorkspaceFiles, path: string, seq: number): void {
  const state = ctx.state.getFile(files.workspaceId, path) ?? baseOf(undefined, files.workspaceId, path);
  if ((state.skippedSeq ?? 0) >= seq) return;
  ctx.state.setFile({ ...state, skippedSeq: seq });
}

function recordPut(ctx: SyncContext, files: WorkspaceFiles, body: FilePutBody, seq: number): void {
  ctx.state.setFile({
    workspaceId: files.workspaceId,
    path: body.path,
    hash: body.hash,
    size: body.size,
    mode: body.mode,
    mtime: body.mtime,
    binary: body.binary,
    deleted: false,
    baseHash: body.hash,
    baseSeq: seq,
    baseDeleted: false,
  });
}

function recordDelete(ctx: SyncContext, files: WorkspaceFiles, path: string, seq: number): void {
  const before = ctx.state.getFile(files.workspaceId, path);
  ctx.state.setFile({
    ...baseOf(before, files.workspaceId, path),
    deleted: true,
    baseHash: '',
    baseSeq: seq,
    baseDeleted: true,
  });
}

function baseOf(before: FileSyncState | undefined, workspaceId: FileSyncState['workspaceId'], path: string): FileSyncState {
  return before
    ? { ...before }
    : { workspaceId, path, hash: '', size: 0, mode: 0o644, mtime: 0, binary: false, deleted: true, baseHash: '', baseSeq: 0, baseDeleted: true };
}

function entryFields(entry: ManifestEntry): Pick<FileSyncState, 'hash' | 'size' | 'mode' | 'mtime' | 'binary'> {
  return { hash: entry.hash, size: entry.size, mode: entry.mode, mtime: entry.mtime, binary: entry.binary };
}

/** `path`, or `path` with `-2`, `-3`... before the extension when another file already holds it. */
async function freeCopyPath(files: WorkspaceFiles, path: string, bytes: Uint8Array): Promise<string> {
  const hash = sha256Hex(bytes);
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? path : path.replace(/(\.[^./]*)?$/, (ext) => `-${n}${ext}`);
    const existing = await files.read(candidate);
    if (existing === null || sha256Hex(existing) === hash) return candidate;
  }
}

