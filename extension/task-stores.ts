/**
 * The task stores this window syncs: core's discovery, the assistants' folders beside this
 * extension's own globalStorage (exactly where this editor keeps them, whatever its name), and
 * the custom storage paths in the live settings; limited by `rooSync.sources`.
 */
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import * as vscode from 'vscode';
import { discoverTaskStores } from '../core/node/stores/discovery';
import type { StoreProblem } from '../core/ports/task-store';
import { TASK_STORE_LAYOUTS } from '../core/stores/layouts';
import { selectStores, type StoreCandidate } from '../core/stores/store-selection';
import type { TaskSource } from '../core/model/changes';

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** True when both lists name the same stores (source and folder), in any order. */
export function sameStores(a: readonly StoreCandidate[], b: readonly StoreCandidate[]): boolean {
  const key = (list: readonly StoreCandidate[]) => JSON.stringify(list.map((s) => `${s.source}\u0000${s.basePath}`).sort());
  return key(a) === key(b);
}

export async function findTaskStores(globalStorageUri: vscode.Uri, sources: readonly TaskSource[]): Promise<{ stores: StoreCandidate[]; problems: StoreProblem[] }> {
  const candidates: StoreCandidate[] = [];
  const globalStorageRoot = dirname(globalStorageUri.fsPath);
  for (const layout of TASK_STORE_LAYOUTS) {
    const custom = layout.customPathSetting ? vscode.workspace.getConfiguration().get<string>(layout.customPathSetting, '') : '';
    if (typeof custom === 'string' && custom.trim() !== '' && isAbsolute(custom.trim()) && (await isDirectory(custom.trim()))) {
      candidates.push({ source: layout.source, basePath: custom.trim(), foundBy: 'custom-storage-setting' });
    }
    const sibling = join(globalStorageRoot, layout.extensionId);
    if (await isDirectory(sibling)) candidates.push({ source: layout.source, basePath: sibling, foundBy: 'global-storage' });
  }
  const discovered = await discoverTaskStores({ home: homedir(), platform: process.platform, env: process.env });
  for (const store of discovered.stores) candidates.push({ source: store.source, basePath: store.basePath, foundBy: `discovery (${store.editor})` });
  return { stores: selectStores(candidates, sources), problems: discovered.problems };
}
