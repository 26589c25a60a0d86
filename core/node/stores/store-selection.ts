/**
 * Which task stores a command works on: every store discovery finds, or those a user names by
 * assistant (`roo-code`, `zoo-code`, `kilo-code`, `cline`) or by folder (`PATH`, or
 * `SOURCE=PATH` to say whose layout it is). A folder without a source is taken for the
 * assistant whose extension id it is named after, else Cline when it has
 * `state/taskHistory.json`, else Roo Code.
 */
import { stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { SyncError } from '../../errors';
import { TASK_SOURCES, type TaskSource } from '../../model/changes';
import { TASK_STORE_LAYOUTS, layoutOf } from '../../stores/layouts';
import { discoverTaskStores, type DiscoverOptions, type DiscoveredTaskStore } from './discovery';

export interface SelectedStore {
  source: TaskSource;
  basePath: string;
  /** The discovery record, when discovery found it (gives the editor's state.vscdb). */
  found?: DiscoveredTaskStore;
}

/**
 * The stores `selectors` name (all discovered stores when empty). Throws CLI_USAGE for a
 * selector that is neither a source nor a folder, CLI_STORE_NOT_FOUND when nothing matches.
 */
export async function selectStores(selectors: readonly string[], discover: DiscoverOptions): Promise<SelectedStore[]> {
  const { stores } = await discoverTaskStores(discover);
  const out: SelectedStore[] = [];
  const add = (store: SelectedStore): void => {
    if (!out.some((s) => s.source === store.source && resolve(s.basePath) === resolve(store.basePath))) out.push(store);
  };
  if (selectors.length === 0) {
    for (const found of stores) add({ source: found.source, basePath: found.basePath, found });
    return out;
  }
  for (const selector of selectors) {
    if ((TASK_SOURCES as readonly string[]).includes(selector)) {
      const matching = stores.filter((s) => s.source === selector);
      if (matching.length === 0) {
        const name = layoutOf(selector as TaskSource).displayName;
        throw new SyncError('CLI_STORE_NOT_FOUND', `no ${name} task store on this machine: ${name} makes its folder when it first runs in an editor, so start it once, or name the folder as ${selector}=PATH`, { selector });
      }
      for (const found of matching) add({ source: found.source, basePath: found.basePath, found });
      continue;
    }
    const eq = selector.indexOf('=');
    const named = eq > 0 ? selector.slice(0, eq) : null;
    if (named !== null && !(TASK_SOURCES as readonly string[]).includes(named)) {
      throw new SyncError('CLI_USAGE', `unknown assistant "${named}" (use ${TASK_SOURCES.join(', ')})`, { selector });
    }
    const path = resolve(named !== null ? selector.slice(eq + 1) : selector);
    if (!(await isDirectory(path))) {
      throw new SyncError('CLI_USAGE', `"${selector}" is neither an assistant (${TASK_SOURCES.join(', ')}) nor a folder`, { selector });
    }
    const source = (named as TaskSource | null) ?? (await guessSource(path));
    const found = stores.find((s) => s.source === source && resolve(s.basePath) === path);
    add({ source, basePath: path, ...(found ? { found } : {}) });
  }
  return out;
}

async function guessSource(path: string): Promise<TaskSource> {
  const byName = TASK_STORE_LAYOUTS.find((l) => l.extensionId === basename(path).toLowerCase());
  if (byName) return byName.source;
  if (await isFile(join(path, 'state', 'taskHistory.json'))) return 'cline';
  return 'roo-code';
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
