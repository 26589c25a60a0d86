/**
 * The workspace folders to sync when `rooSync.workspaceSync.enabled` is on: each local folder
 * of the window, identified across devices by its folder name, with the include and exclude
 * globs (applied in the device worker, see workspace-ignore.ts).
 */
import * as vscode from 'vscode';
import type { RooSyncSettings } from './settings';

export interface WorkspaceToSync {
  workspaceId: string;
  root: string;
  include: string[];
  exclude: string[];
}

export function workspacesToSync(settings: RooSyncSettings): WorkspaceToSync[] {
  if (!settings.workspaceSync.enabled) return [];
  return (vscode.workspace.workspaceFolders ?? [])
    .filter((folder) => folder.uri.scheme === 'file')
    .map((folder) => ({ workspaceId: folder.name, root: folder.uri.fsPath, include: settings.workspaceSync.include, exclude: settings.workspaceSync.exclude }));
}
