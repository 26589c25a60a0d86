/**
 * The workspace folders to sync when `rooSync.workspaceSync.enabled` is on: each local folder
 * of the window, identified across devices by its folder name, limited by the include and
 * exclude globs. Conflict copies (`*.sync-conflict-*`) never sync.
 */
import picomatch from 'picomatch';
import * as vscode from 'vscode';
import type { SyncDeviceWorkspace } from '../core/node/device/sync-device';
import type { RooSyncSettings } from './settings';

/** True for a path roo-sync wrote as a conflict copy. */
export function isConflictCopy(relPath: string): boolean {
  return /\.sync-conflict-[^/]*$/.test(relPath);
}

/** The ignore rule for `include`/`exclude` (paths relative to the folder, `/`-separated). */
export function workspaceIgnore(include: readonly string[], exclude: readonly string[]): (relPath: string) => boolean {
  const included = include.length > 0 ? picomatch([...include], { dot: true }) : () => true;
  const excluded = exclude.length > 0 ? picomatch([...exclude], { dot: true }) : () => false;
  return (relPath) => isConflictCopy(relPath) || !included(relPath) || excluded(relPath);
}

export function workspacesToSync(settings: RooSyncSettings): SyncDeviceWorkspace[] {
  if (!settings.workspaceSync.enabled) return [];
  const ignore = workspaceIgnore(settings.workspaceSync.include, settings.workspaceSync.exclude);
  return (vscode.workspace.workspaceFolders ?? [])
    .filter((folder) => folder.uri.scheme === 'file')
    .map((folder) => ({ workspaceId: folder.name, root: folder.uri.fsPath, ignore }));
}
