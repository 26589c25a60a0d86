/**
 * Whole task stores as the assistants leave them on a real machine, for the migrate/backfill
 * tests and benchmarks: a fake home folder with `<home>/.config/Code/User/globalStorage/<id>/`
 * per assistant (so discovery finds it), in the Roo Code, Zoo Code, Kilo Code or Cline classic
 * layout, with every id era, legacy `claude_messages.json`, HistoryItem fields no version
 * defines any more, crash leftovers (temp files, stale `.lock` folders), corrupt and truncated
 * message files, and, on request, only VS Code's `state.vscdb` as the index.
 *
 * Returns a manifest of what it wrote: the readable tasks (as written) and the unreadable ones
 * (path and the code a reader must report), so tests can check a round trip exactly. The same
 * seed always writes the same bytes.
 */
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskSource } from '../../core/model/changes';
import { layoutOf } from '../../core/stores/layouts';
import { STATE_DB_FILE } from '../../core/node/stores/vscode-state-db';
import { createRng } from './rng';
import { generateTaskHistory, type GeneratedTask, type TaskIdEra } from './task-fixtures';

export type StoreIndexStyle = 'files' | 'state-vscdb';

export interface GeneratedStoreOptions {
  source: TaskSource;
  seed: number;
  /** Readable tasks to write. */
  tasks: number;
  /** ui messages per task: a number or [min, max]. Default [4, 40]. */
  messages?: number | readonly [number, number];
  /**
   * `files` (default): the index of the layout (history_item.json + `_index.json` for Roo Code;
   * Zoo and Kilo without `_index.json`; Cline's `state/taskHistory.json`). `state-vscdb`: none
   * of those; the HistoryItems only in `<User>/globalStorage/state.vscdb`.
   */
  index?: StoreIndexStyle;
  /** Add unreadable tasks (corrupt, truncated, NUL-filled) and crash leftovers. Default true. */
  damage?: boolean;
  /**
   * Write `tasks` distinct tasks by repeating `distinct` generated ones under new ids (fast,
   * for the 1 GB benchmark stores). Default: every task generated.
   */
  distinct?: number;
  /** Editor folder under `.config` (default `Code`). */
  editor?: string;
}

export interface UnreadableTask {
  taskId: string;
  /** The file a reader must name. */
  path: string;
  code: string;
}

export interface GeneratedStore {
  source: TaskSource;
  /** The folder that holds `tasks/` (what FsTaskStore takes). */
  basePath: string;
  /** The editor's `User` folder (holds `globalStorage/state.vscdb`). */
  userDataDir: string;
  readable: GeneratedTask[];
  unreadable: UnreadableTask[];
  /** Bytes of the readable tasks' ui + api files. */
  bytes: number;
  /** ui + api entries of the readable tasks. */
  messages: number;
}

const ERAS: readonly TaskIdEra[] = ['timestamp', 'uuid4', 'uuid7'];

/** Writes one assistant's store under `home` (see the module comment). */
export async function generateStore(home: string, options: GeneratedStoreOptions): Promise<GeneratedStore> {
  const layout = layoutOf(options.source);
  const userDataDir = join(home, '.config', options.editor ?? 'Code', 'User');
  const basePath = join(userDataDir, 'globalStorage', layout.extensionId);
  const tasksDir = join(basePath, 'tasks');
  await mkdir(tasksDir, { recursive: true });
  const rng = createRng(options.seed);
  const indexStyle = options.index ?? 'files';
  const [min, max] = typeof options.messages === 'number' ? [options.messages, options.messages] : (options.messages ?? [4, 40]);
  const historyShape = layout.kind === 'cline' ? 'cline' : 'roo';

  const readable: GeneratedTask[] = [];
  const distinct = Math.max(1, Math.min(options.distinct ?? options.tasks, options.tasks));
  const templates: GeneratedTask[] = [];
  let bytes = 0;
  let messages = 0;
  for (let i = 0; i < options.tasks; i++) {
    let task: GeneratedTask;
    const era = ERAS[i % ERAS.length]!;
    if (i < distinct) {
      task = generateTaskHistory({ seed: options.seed * 100_003 + i, messages: rng.int(min, max), era, historyShape, images: i % 7 === 3, legacyRequest: era === 'timestamp' });
      templates.push(task);
    } else {
      const template = templates[i % distinct]!;
      const taskId = idLike(template.taskId, i);
      task = { ...template, taskId, historyItem: { ...template.historyItem, id: taskId } };
    }
    // Fields no current version defines: they must survive a round trip.
    if (i % 5 === 1) task.historyItem = { ...task.historyItem, legacyIsFavorited: true, oldVersionNote: { from: '3.20', tags: ['kept'] } };
    const dir = join(tasksDir, task.taskId);
    await mkdir(dir, { recursive: true });
    const ui = JSON.stringify(task.ui);
    const api = JSON.stringify(task.api);
    await writeFile(join(dir, 'ui_messages.json'), ui);
    // The oldest tasks keep the api history under its first name.
    await writeFile(join(dir, era === 'timestamp' && i % 2 === 0 ? 'claude_messages.json' : 'api_conversation_history.json'), api);
    if (layout.kind === 'roo' && indexStyle === 'files') await writeFile(join(dir, 'history_item.json'), JSON.stringify(task.historyItem));
    if (i % 4 === 2) await writeFile(join(dir, 'task_metadata.json'), JSON.stringify({ files_in_context: [] }));
    bytes += Buffer.byteLength(ui) + Buffer.byteLength(api);
    messages += task.ui.length + task.api.length;
    readable.push(task);
  }

  const unreadable: UnreadableTask[] = [];
  if (options.damage ?? true) {
    unreadable.push(...(await writeDamage(tasksDir, options.seed)));
    await writeCrashLeftovers(tasksDir, readable);
  }

  const items = readable.map((t) => t.historyItem);
  if (indexStyle === 'state-vscdb') {
    await writeStateDb(join(userDataDir, 'globalStorage', STATE_DB_FILE), { [caseOf(layout.extensionId)]: JSON.stringify({ taskHistory: items, lastShownAnnouncementId: 'x' }) });
  } else if (layout.kind === 'cline') {
    await mkdir(join(basePath, 'state'), { recursive: true });
    await writeFile(join(basePath, 'state', 'taskHistory.json'), JSON.stringify(items));
  } else if (layout.rooIndex === 'always') {
    const entries = [...items].sort((a, b) => Number(b['ts']) - Number(a['ts']));
    await writeFile(join(tasksDir, '_index.json'), JSON.stringify({ version: 1, updatedAt: Date.UTC(2026, 0, 1), entries }));
  }
  return { source: options.source, basePath, userDataDir, readable, unreadable, bytes, messages };
}

/** Writes a VS Code `state.vscdb` (ItemTable) holding `items`, with sql.js. */
export async function writeStateDb(path: string, items: Readonly<Record<string, string>>): Promise<void> {
  const { default: init } = await import('sql.js/dist/sql-wasm-inline.js');
  const SQL = await init();
  const db = new SQL.Database();
  try {
    db.run('CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)');
    db.run('INSERT INTO ItemTable VALUES (?, ?)', ['workbench.panel.position', '"bottom"']);
    for (const [key, value] of Object.entries(items)) db.run('INSERT INTO ItemTable VALUES (?, ?)', [key, value]);
    await writeFile(path, db.export());
  } finally {
    db.close();
  }
}

/** The extension id as VS Code keys it in globalState (publisher in its own case). */
function caseOf(extensionId: string): string {
  return extensionId === 'rooveterinaryinc.roo-cline' ? 'RooVeterinaryInc.roo-cline' : extensionId;
}

/** A new id of the same era as `id`, distinct per `n`. */
function idLike(id: string, n: number): string {
  if (/^\d+$/.test(id)) return String(Number(id) + n * 1_009);
  const suffix = n.toString(16).padStart(12, '0').slice(-12);
  return `${id.slice(0, 24)}${suffix}`;
}

/** Tasks no reader can read whole, each with the file and the code it must report. */
async function writeDamage(tasksDir: string, seed: number): Promise<UnreadableTask[]> {
  const damaged: Array<{ taskId: string; file: string; bytes: Buffer | string }> = [
    { taskId: String(1_690_000_000_000 + (seed % 1000)), file: 'ui_messages.json', bytes: '[{"ts":1690000000001,"type":"say","say":"text","text":"cut off her' },
    { taskId: `0190a1b2-c3d4-7e5f-8a9b-${String(seed).padStart(12, '0').slice(-12)}`, file: 'api_conversation_history.json', bytes: '{"role":"user","content":"not an array"}' },
    { taskId: `6f1c2d3e-4b5a-4c6d-9e8f-${String(seed + 1).padStart(12, '0').slice(-12)}`, file: 'ui_messages.json', bytes: Buffer.alloc(512) },
  ];
  const out: UnreadableTask[] = [];
  for (const d of damaged) {
    const dir = join(tasksDir, d.taskId);
    await mkdir(dir, { recursive: true });
    const other = d.file === 'ui_messages.json' ? 'api_conversation_history.json' : 'ui_messages.json';
    await writeFile(join(dir, other), '[]');
    await writeFile(join(dir, d.file), d.bytes);
    out.push({ taskId: d.taskId, path: join(dir, d.file), code: 'STORE_CORRUPT_JSON' });
  }
  return out;
}

/** What a crash mid-write leaves: temp and backup files, a stale lock folder, a non-task folder. */
async function writeCrashLeftovers(tasksDir: string, tasks: readonly GeneratedTask[]): Promise<void> {
  const first = tasks[0];
  if (first) {
    const dir = join(tasksDir, first.taskId);
    await writeFile(join(dir, '.ui_messages.json.new_1700000000000_ab12cd.tmp'), '[{"ts":1');
    await writeFile(join(dir, '.api_conversation_history.json.bak_1700000000000_ef34gh.tmp'), '[]');
    const lock = join(dir, 'ui_messages.json.lock');
    await mkdir(lock, { recursive: true });
    const old = new Date(Date.UTC(2024, 0, 1));
    await utimes(lock, old, old);
  }
  await mkdir(join(tasksDir, '_backup'), { recursive: true });
  await mkdir(join(tasksDir, '.DS_Store_dir'), { recursive: true });
  await mkdir(join(tasksDir, '1700000000999', 'checkpoints'), { recursive: true });
}
