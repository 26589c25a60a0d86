/**
 * Notices assistant store folders that appear after sync started: an assistant installed later,
 * or one that creates its globalStorage folder only when it writes its first task. Watches the
 * editor's globalStorage root (the parent of every extension's folder, where the assistants'
 * stores are found) for new entries and calls back, debounced; the controller then finds the
 * stores again and restarts the device when the set changed. Only names of entries are looked
 * at: nothing is read or written.
 */
import { watch, type FSWatcher } from 'node:fs';
import type * as vscode from 'vscode';

/** Quiet time after the last event before `onChange` runs (ms). */
export const STORE_FOLDER_DEBOUNCE_MS = 300;

/**
 * Calls `onChange` when an entry named one of `names` (compared in lower case, as VS Code names
 * globalStorage folders) appears in or leaves `root`. Other entries (the editor's own state
 * database and its journal come and go all the time) are ignored.
 */
export function watchStoreFolders(root: string, names: readonly string[], onChange: () => void, onError: (error: Error) => void): vscode.Disposable {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  const fire = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      onChange();
    }, STORE_FOLDER_DEBOUNCE_MS);
    timer.unref();
  };
  try {
    watcher = watch(root, { persistent: false }, (event, name) => {
      // 'rename': an entry appeared or went away. Without a name (some platforms) look anyway.
      if (event === 'rename' && (!name || wanted.has(name.toString().toLowerCase()))) fire();
    });
    watcher.on('error', onError);
  } catch (error) {
    onError(error as Error);
  }
  return {
    dispose: () => {
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}
