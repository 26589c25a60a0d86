/**
 * Where each assistant keeps its tasks and how its folder is laid out
 * (shared/reference/task-stores.md). One row per assistant; the rest of roo-sync reads this
 * table instead of hard-coding names.
 */
import type { TaskSource } from '../model/changes';

/**
 * `roo`: Roo Code and its forks: `tasks/<id>/history_item.json` plus the `tasks/_index.json` cache.
 * `cline`: Cline's classic layout: the index is `state/taskHistory.json`, no per-task HistoryItem file.
 */
export type LayoutKind = 'roo' | 'cline';

export interface TaskStoreLayout {
  source: TaskSource;
  /** Human name, for logs and UI. */
  displayName: string;
  /** VS Code extension id in lower case: the folder name under `globalStorage/`. */
  extensionId: string;
  /** The `settings.json` key that moves the store elsewhere, or null when the extension has none. */
  customPathSetting: string | null;
  kind: LayoutKind;
  /**
   * When writing, update `tasks/_index.json`: `always` (Roo Code creates it), `if-present`
   * (forks that dropped it or never had it; we do not create it for them), `never` (Cline).
   */
  rooIndex: 'always' | 'if-present' | 'never';
}

/**
 * Every supported assistant. Kilo Code's setting is `kilo-code.customStoragePath` (its
 * extension manifest, package name `kilo-code`, publisher `kilocode`, declares it).
 */
export const TASK_STORE_LAYOUTS: readonly TaskStoreLayout[] = [
  {
    source: 'roo-code',
    displayName: 'Roo Code',
    extensionId: 'rooveterinaryinc.roo-cline',
    customPathSetting: 'roo-cline.customStoragePath',
    kind: 'roo',
    rooIndex: 'always',
  },
  {
    source: 'zoo-code',
    displayName: 'Zoo Code',
    extensionId: 'zoocodeorganization.zoo-code',
    customPathSetting: 'zoo-code.customStoragePath',
    kind: 'roo',
    rooIndex: 'if-present',
  },
  {
    source: 'kilo-code',
    displayName: 'Kilo Code',
    extensionId: 'kilocode.kilo-code',
    customPathSetting: 'kilo-code.customStoragePath',
    kind: 'roo',
    rooIndex: 'if-present',
  },
  {
    source: 'cline',
    displayName: 'Cline',
    extensionId: 'saoudrizwan.claude-dev',
    customPathSetting: null,
    kind: 'cline',
    rooIndex: 'never',
  },
];

/** The layout of one assistant. */
export function layoutOf(source: TaskSource): TaskStoreLayout {
  const layout = TASK_STORE_LAYOUTS.find((l) => l.source === source);
  if (!layout) throw new RangeError(`no task-store layout for ${source}`);
  return layout;
}

/** File names inside a store (relative to `<base>`). */
export const STORE_FILES = {
  tasksDir: 'tasks',
  rooIndex: '_index.json',
  clineIndex: ['state', 'taskHistory.json'] as const,
  ui: 'ui_messages.json',
  api: 'api_conversation_history.json',
  /** The api history's name in the oldest versions; read when the new name is absent. */
  legacyApi: 'claude_messages.json',
  historyItem: 'history_item.json',
} as const;

/** Editors whose user-data folder is named like VS Code's (`<config>/<name>/User`). */
export const EDITOR_FOLDER_NAMES = ['Code', 'Code - Insiders', 'Cursor', 'VSCodium', 'Windsurf'] as const;

/** Server-side data folders of remote hosts (Remote-SSH, WSL, dev containers): `~/<dir>/data/User`. */
export const REMOTE_SERVER_FOLDERS = ['.vscode-server', '.vscode-server-insiders', '.cursor-server', '.vscodium-server', '.windsurf-server'] as const;
