/**
 * Unresolved workspace-file conflicts and their resolution. The engine keeps the other version
 * beside the file as `name.sync-conflict-<date>-<device>.ext` and records it; a conflict is
 * unresolved while that copy exists. Accept Local removes the copy; Accept Remote puts the
 * copy's content in the file (a local edit that syncs as usual) and removes the copy; Keep Both
 * renames the copy to `name.from-<device>.ext`, an ordinary file that syncs.
 */
import { existsSync } from 'node:fs';
import { copyFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import * as vscode from 'vscode';
import { resolveInsideWorkspace } from '../core/node/paths/resolve-inside';
import type { FileConflictRecord } from '../core/storage/sync-state';
import type { SyncDeviceWorkspace } from '../core/node/device/sync-device';
import type { ViewConflict } from './sync-view';

export type ConflictChoice = 'local' | 'remote' | 'both';

export interface OpenConflict extends ViewConflict {
  record: FileConflictRecord;
  root: string;
}

function conflictId(record: FileConflictRecord): string {
  return `${record.workspaceId}:${record.copyPath}`;
}

/** The conflicts whose copy is still on disk, newest last. */
export function unresolvedConflicts(records: readonly FileConflictRecord[], workspaces: readonly SyncDeviceWorkspace[]): OpenConflict[] {
  const out: OpenConflict[] = [];
  const seen = new Set<string>();
  for (const record of records) {
    const workspace = workspaces.find((w) => w.workspaceId === record.workspaceId);
    if (!workspace) continue;
    const id = conflictId(record);
    if (seen.has(id)) continue;
    const copy = join(workspace.root, record.copyPath);
    if (!existsSync(copy)) continue;
    seen.add(id);
    out.push({ id, path: record.path, localUri: vscode.Uri.file(join(workspace.root, record.path)), remoteUri: vscode.Uri.file(copy), record, root: workspace.root });
  }
  return out;
}

/** Opens VS Code's diff editor: the local file on the left, the other device's version on the right. */
export async function openConflictDiff(conflict: OpenConflict): Promise<void> {
  await vscode.commands.executeCommand('vscode.diff', conflict.localUri, conflict.remoteUri, `${conflict.path}: local ↔ ${conflict.record.copyFrom} (roo-sync conflict)`);
}

/** Resolves one conflict as the user chose. Paths are checked to stay inside the workspace. */
export async function resolveConflict(conflict: OpenConflict, choice: ConflictChoice): Promise<{ kept: string[] }> {
  // Throws PATH_* codes for a path that would leave the workspace.
  const file = await resolveInsideWorkspace(conflict.root, conflict.record.path);
  const copy = await resolveInsideWorkspace(conflict.root, conflict.record.copyPath);
  switch (choice) {
    case 'local':
      await rm(copy, { force: true });
      return { kept: [conflict.record.path] };
    case 'remote':
      await copyFile(copy, file);
      await rm(copy, { force: true });
      return { kept: [conflict.record.path] };
    case 'both': {
      const ext = extname(conflict.record.path);
      const name = `${basename(conflict.record.path, ext)}.from-${conflict.record.copyFrom.replace(/[^A-Za-z0-9._-]/g, '_')}${ext}`;
      await rename(copy, join(dirname(copy), name));
      return { kept: [conflict.record.path, join(dirname(conflict.record.path), name)] };
    }
  }
}
