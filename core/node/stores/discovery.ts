/**
 * Finds the task stores of the installed assistants: every editor's default globalStorage
 * folder (Linux, macOS, Windows; VS Code, Insiders, Cursor, VSCodium, Windsurf; the remote
 * server folders used by Remote-SSH, WSL and dev containers) and the custom storage path an
 * assistant's setting names in the editor's `settings.json` (JSONC). Only folders that exist
 * are returned.
 */
import { stat, readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { parse as parseJsonc, type ParseError } from 'jsonc-parser';
import type { TaskSource } from '../../model/changes';
import type { StoreProblem } from '../../ports/task-store';
import { EDITOR_FOLDER_NAMES, REMOTE_SERVER_FOLDERS, TASK_STORE_LAYOUTS, type TaskStoreLayout } from '../../stores/layouts';
import { STORE_ERROR_CODES } from '../../stores/store-scan';
import { isErrnoCode } from './json-file';

/** How a store was found. */
export type StoreFoundBy = 'default-location' | 'custom-storage-setting';

export interface DiscoveredTaskStore {
  source: TaskSource;
  extensionId: string;
  layout: TaskStoreLayout;
  /** The folder that holds `tasks/` (give it to FsTaskStore). */
  basePath: string;
  /** The extension's globalStorage folder (where checkpoints stay even with a custom path). */
  globalStoragePath: string;
  /** The editor's `User` folder it belongs to. */
  userDataDir: string;
  /** Editor name as in the folder (`Code`, `Cursor`, ...) or the remote server folder (`.vscode-server`). */
  editor: string;
  foundBy: StoreFoundBy;
  /** The settings.json that named the custom path (only for `custom-storage-setting`). */
  settingsPath?: string;
}

export interface DiscoverOptions {
  /** The user's home folder. */
  home: string;
  platform: NodeJS.Platform;
  /** Environment (APPDATA, XDG_CONFIG_HOME, VSCODE_PORTABLE). */
  env: Readonly<Record<string, string | undefined>>;
  /** Editor folder names to look in; default EDITOR_FOLDER_NAMES. */
  editors?: readonly string[];
  /** Assistants to look for; default every row of TASK_STORE_LAYOUTS. */
  layouts?: readonly TaskStoreLayout[];
}

export interface DiscoveryResult {
  stores: DiscoveredTaskStore[];
  /** settings.json files that could not be parsed (the defaults are still used). */
  problems: StoreProblem[];
}

/** A `User` folder of an editor install, with the settings files that apply to it. */
export interface UserDataLocation {
  editor: string;
  userDataDir: string;
  /** settings.json files, later ones override earlier ones (User, then Machine for remote hosts). */
  settingsFiles: string[];
}

/**
 * Every `User` folder an editor could use on `platform`, existing or not. Paths are joined
 * with the host's path module (a win32 layout is only ever read on Windows; tests pass a fake
 * APPDATA).
 */
export function userDataLocations(options: Pick<DiscoverOptions, 'home' | 'platform' | 'env' | 'editors'>): UserDataLocation[] {
  const { home, platform, env } = options;
  const editors = options.editors ?? EDITOR_FOLDER_NAMES;
  let configRoot: string;
  if (platform === 'win32') configRoot = env['APPDATA'] || join(home, 'AppData', 'Roaming');
  else if (platform === 'darwin') configRoot = join(home, 'Library', 'Application Support');
  else configRoot = env['XDG_CONFIG_HOME'] && isAbsolute(env['XDG_CONFIG_HOME']) ? env['XDG_CONFIG_HOME'] : join(home, '.config');

  const locations: UserDataLocation[] = editors.map((editor) => {
    const userDataDir = join(configRoot, editor, 'User');
    return { editor, userDataDir, settingsFiles: [join(userDataDir, 'settings.json')] };
  });
  if (env['VSCODE_PORTABLE']) {
    const userDataDir = join(env['VSCODE_PORTABLE'], 'user-data', 'User');
    locations.push({ editor: 'portable', userDataDir, settingsFiles: [join(userDataDir, 'settings.json')] });
  }
  for (const server of REMOTE_SERVER_FOLDERS) {
    const dataDir = join(home, server, 'data');
    const userDataDir = join(dataDir, 'User');
    // Remote hosts keep machine-scoped settings (where a custom path usually is) in Machine/.
    locations.push({ editor: server, userDataDir, settingsFiles: [join(userDataDir, 'settings.json'), join(dataDir, 'Machine', 'settings.json')] });
  }
  return locations;
}

/**
 * Reads a VS Code settings file (JSONC: comments, trailing commas). Returns null when absent;
 * throws nothing: a broken file yields `{settings: {}, problem}`.
 */
export async function readEditorSettings(path: string): Promise<{ settings: Record<string, unknown>; problem?: StoreProblem } | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT') || isErrnoCode(error, 'ENOTDIR')) return null;
    return { settings: {}, problem: { code: STORE_ERROR_CODES.settingsUnreadable, path, reason: String(error) } };
  }
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { settings: {}, problem: { code: STORE_ERROR_CODES.settingsUnreadable, path, reason: 'not a JSON object' } };
  }
  // jsonc-parser recovers what it can; keep that, and say the file has errors.
  const problem = errors.length > 0 ? { code: STORE_ERROR_CODES.settingsUnreadable, path, reason: `${errors.length} JSONC syntax error(s), first at offset ${errors[0]!.offset}` } : undefined;
  return problem ? { settings: value as Record<string, unknown>, problem } : { settings: value as Record<string, unknown> };
}

/** Finds every existing task store on this machine (see the module comment). */
export async function discoverTaskStores(options: DiscoverOptions): Promise<DiscoveryResult> {
  const layouts = options.layouts ?? TASK_STORE_LAYOUTS;
  const stores: DiscoveredTaskStore[] = [];
  const problems: StoreProblem[] = [];
  const seen = new Set<string>();
  const add = (store: DiscoveredTaskStore) => {
    const key = `${store.source}\u0000${resolve(store.basePath)}`;
    if (seen.has(key)) return;
    seen.add(key);
    stores.push(store);
  };

  for (const location of userDataLocations(options)) {
    if (!(await isDirectory(location.userDataDir))) continue;
    const settings: Record<string, unknown> = {};
    const settingsSourceOf = new Map<string, string>();
    for (const file of location.settingsFiles) {
      const read = await readEditorSettings(file);
      if (!read) continue;
      if (read.problem) problems.push(read.problem);
      for (const [key, value] of Object.entries(read.settings)) {
        settings[key] = value;
        settingsSourceOf.set(key, file);
      }
    }
    for (const layout of layouts) {
      const globalStoragePath = join(location.userDataDir, 'globalStorage', layout.extensionId);
      const common = { source: layout.source, extensionId: layout.extensionId, layout, globalStoragePath, userDataDir: location.userDataDir, editor: location.editor };
      const custom = layout.customPathSetting ? settings[layout.customPathSetting] : undefined;
      if (typeof custom === 'string' && custom.trim() !== '' && isAbsolute(custom.trim()) && (await isDirectory(custom.trim()))) {
        add({ ...common, basePath: custom.trim(), foundBy: 'custom-storage-setting', settingsPath: settingsSourceOf.get(layout.customPathSetting!)! });
      }
      // The default folder too: it holds the tasks from before the custom path was set.
      if (await isDirectory(globalStoragePath)) add({ ...common, basePath: globalStoragePath, foundBy: 'default-location' });
    }
  }
  return { stores, problems };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
