/**
 * Real devices (core's SyncDevice) on temp folders against a real relay, for end-to-end tests:
 * each device signs in through the relay's login route, keeps its credentials in a 0600 file,
 * its state in `<dir>/data` and its Roo Code store in `<dir>/store`. `assistantWrite` writes a
 * task the way the assistant does (whole files through a temp file and a rename), so the
 * device's real watcher sees what it would see beside Roo Code.
 */
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { signIn } from '../../core/client/sign-in';
import { FileCredentialsStore } from '../../core/node/credentials/file-credentials-store';
import { SyncDevice, type SyncDeviceOptions } from '../../core/node/device/sync-device';
import { createUser } from '../../server/accounts/users';
import type { RelayServer } from '../../server/relay-server';
import { PASSWORD } from '../server/http/relay-fixture';
import { waitFor } from './redis';

export interface DeviceDir {
  dir: string;
  storePath: string;
  dataDir: string;
  credentials: FileCredentialsStore;
}

export interface DeviceFixture {
  /** A new device folder (removed after the test). */
  folder(): Promise<DeviceDir>;
  /** Creates the account when new. */
  account(email: string): Promise<void>;
  /** Signs `dir` in as a new device of `email` (credentials saved in its folder). */
  signIn(dir: DeviceDir, email: string, name?: string): Promise<void>;
  /** Opens the device in `dir` (closed after the test). */
  open(dir: DeviceDir, options?: Partial<SyncDeviceOptions>): Promise<SyncDevice>;
}

/** Mocha hooks: folders and devices made in a test are closed and removed after it. */
export function useDeviceFixture(relay: () => RelayServer): DeviceFixture {
  const dirs: string[] = [];
  const devices: SyncDevice[] = [];
  afterEach(async () => {
    for (const device of devices.splice(0).reverse()) await device.close();
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  return {
    async folder() {
      const dir = await mkdtemp(join(tmpdir(), 'roo-sync-device-'));
      dirs.push(dir);
      const storePath = join(dir, 'store');
      await mkdir(join(storePath, 'tasks'), { recursive: true });
      return { dir, storePath, dataDir: join(dir, 'data'), credentials: new FileCredentialsStore(join(dir, 'credentials.json')) };
    },
    async account(email) {
      await createUser(relay().db, { email, password: PASSWORD }).catch((err: { code?: string }) => {
        if (err.code !== 'USER_EXISTS') throw err;
      });
    },
    async signIn(dir, email, name = 'test device') {
      // As the extension registers: a device that runs the assistant and takes remote commands.
      await signIn({ serverUrl: relay().url, email, password: PASSWORD, device: { name, kind: 'vscode' } }, dir.credentials);
    },
    async open(dir, options = {}) {
      const device = await SyncDevice.open({
        credentials: dir.credentials,
        dataDir: dir.dataDir,
        stores: [{ source: 'roo-code', basePath: dir.storePath }],
        holderName: 'device test',
        watch: { debounceMs: 30, maxWaitMs: 300 },
        client: { pingIntervalMs: 0, requestTimeoutMs: 5000, backoff: { initialMs: 50, maxMs: 500 } },
        followRetryMs: 100,
        ...options,
      });
      devices.push(device);
      return device;
    },
  };
}

/** A Roo Code task as the assistant keeps it. */
export interface AssistantTask {
  taskId: string;
  ui: unknown[];
  api: unknown[];
  historyItem: Record<string, unknown>;
}

/** Writes the task as Roo Code does: each file rewritten whole, through a temp file and a rename. */
export async function assistantWrite(storePath: string, task: AssistantTask): Promise<void> {
  const folder = join(storePath, 'tasks', task.taskId);
  await mkdir(folder, { recursive: true });
  const files: Array<[string, unknown]> = [
    ['api_conversation_history.json', task.api],
    ['ui_messages.json', task.ui],
    ['history_item.json', task.historyItem],
  ];
  for (const [name, value] of files) await writeFileLikeAssistant(join(folder, name), value);
}

/** Writes `value` as JSON the way the assistants do: a temp file beside it, renamed over it. */
export async function writeFileLikeAssistant(path: string, value: unknown): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.new_${Date.now()}_${Math.random().toString(16).slice(2, 10)}.tmp`);
  await writeFile(temp, JSON.stringify(value));
  await rename(temp, path);
}

/** The ui messages of a task on disk ([] when the file is missing or not JSON yet). */
export async function uiOnDisk(storePath: string, taskId: string): Promise<Array<Record<string, unknown>>> {
  try {
    return JSON.parse(await readFile(join(storePath, 'tasks', taskId, 'ui_messages.json'), 'utf8')) as Array<Record<string, unknown>>;
  } catch {
    return [];
  }
}

/** Waits until the task's ui messages on disk include one with each of `texts`. */
export async function waitForTexts(storePath: string, taskId: string, texts: readonly string[], what: string): Promise<void> {
  await waitFor(async () => {
    const ui = await uiOnDisk(storePath, taskId);
    return texts.every((text) => ui.some((m) => m.text === text));
  }, what, 15_000);
}

/** A small Roo Code task: a first message and `more` follow-ups, with its HistoryItem. */
export function smallTask(taskId: string, texts: readonly string[], startTs = 1_760_000_000_000): AssistantTask {
  const ui = texts.map((text, i) => ({ ts: startTs + i * 1000, type: 'say', say: 'text', text }));
  const api = texts.map((text, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: [{ type: 'text', text }], ts: startTs + i * 1000 }));
  const historyItem = { id: taskId, number: 1, ts: startTs, task: texts[0] ?? '', tokensIn: 10, tokensOut: 20, totalCost: 0.01, workspace: '/work/project', mode: 'code' };
  return { taskId, ui, api, historyItem };
}
