/**
 * The device process (bundled as dist/device-worker.js, started by device-process.ts): core's
 * SyncDevice beside the extension host, never on its event loop. The host keeps what needs
 * VS Code (SecretStorage, the assistant's API, the UI); this process does the syncing and
 * forwards status, logs, remote commands and presence over the IPC channel. Credentials are
 * read and written through the host (SecretStorage); the cross-window token-rotation lock is a
 * folder lock, taken here. When the host goes away (its channel closes) the device is closed
 * and the process exits.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RelayAuthClient } from '../../core/client/relay-auth-client';
import { SyncError } from '../../core/errors';
import type { TaskId } from '../../core/ids';
import type { RooCloudClient } from '../../core/node/client/roo-cloud-client';
import { SyncDevice } from '../../core/node/device/sync-device';
import { ExclusiveSection } from '../../core/node/credentials/exclusive-section';
import { FsTaskStore } from '../../core/node/stores/fs-task-store';
import { planMigration } from '../../core/node/migrate/migration-plan';
import { runMigration } from '../../core/node/migrate/run-migration';
import type { CredentialsStore, DeviceCredentials } from '../../core/ports/credentials-store';
import { workspaceIgnore } from '../workspace-ignore';
import { lowerOwnPriority } from './process-priority';
import { StatusPacer } from './status-pacer';
import { toWireError, type MainToWorker, type WorkerDeviceOptions, type WorkerMethods, type WorkerToMain } from './protocol';

if (!process.send) throw new Error('device-worker.js runs only as the extension host\'s child process (with an IPC channel)');
// Below the host, every thread, before any work (device-process.ts says why).
lowerOwnPriority();
const send = process.send.bind(process);

/** Sends to the host; any other message goes after a held status (the host reads it current). */
const post = (message: WorkerToMain) => {
  if (message.t !== 'status') statusPacer.flush();
  if (process.connected) send(message);
};

let nextCredentialsId = 1;
const credentialReplies = new Map<number, { resolve(value: DeviceCredentials | null | undefined): void; reject(error: Error): void }>();

function askMain(op: 'load' | 'save' | 'clear', value?: DeviceCredentials): Promise<DeviceCredentials | null | undefined> {
  const id = nextCredentialsId++;
  return new Promise((resolve, reject) => {
    credentialReplies.set(id, { resolve, reject });
    post({ t: 'credentials', id, op, ...(value ? { value } : {}) });
  });
}

/** CredentialsStore over the main thread's SecretStorage. */
class MainThreadCredentials implements CredentialsStore {
  private readonly section: ExclusiveSection;
  constructor(lockDir: string) {
    this.section = new ExclusiveSection(join(lockDir, 'credentials'));
  }
  async load(): Promise<DeviceCredentials | null> {
    return (await askMain('load')) ?? null;
  }
  async save(credentials: DeviceCredentials): Promise<void> {
    await askMain('save', credentials);
  }
  async clear(): Promise<void> {
    await askMain('clear');
  }
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.section.run(work);
  }
}

let device: SyncDevice | null = null;
let migration: AbortController | null = null;
let wired: RooCloudClient | null = null;
let unwire: Array<() => void> = [];

/** At most ten status messages a second reach the host (status-pacer.ts). */
const STATUS_PACE_MS = 100;
const statusPacer = new StatusPacer(() => {
  if (!device) return;
  post({ t: 'status', status: device.status, conflicts: [...(device.storage?.fileConflicts ?? [])], online: device.client?.isOnline ?? false });
}, STATUS_PACE_MS);

function postStatus(): void {
  wire(); // at once, not paced: a new relay link's commands must not go by unheard
  statusPacer.changed();
}


/** Forwards the events of the current relay link (a new one after a lock takeover). */
function wire(): void {
  const client = device?.client ?? null;
  if (client === wired) return;
  for (const remove of unwire.splice(0)) remove();
  wired = client;
  if (!client) return;
  unwire = [
    client.onCommand((delivery) => post({ t: 'command', delivery })),
    client.onPresence((presence) => post({ t: 'presence', presence })),
    client.onCommandResult((result) => post({ t: 'command-result', result })),
    client.onConnected(() => post({ t: 'connected' })),
  ];
}

function requireClient(): RooCloudClient {
  const client = device?.client;
  if (!client) throw new SyncError('DEVICE_NOT_SYNCING', `this window does not sync (${device?.status.state ?? 'closed'})`);
  return client;
}

const methods: { [K in keyof WorkerMethods]: (...args: Parameters<WorkerMethods[K]>) => Promise<ReturnType<WorkerMethods[K]>> } = {
  async syncNow() {
    const { pushed, pulled } = await device!.syncNow();
    return { sent: pushed.accepted, received: pulled.received, unreadable: pushed.unreadable.length };
  },
  async taskTitle(taskId) {
    for (const s of device?.status.stores ?? []) {
      const title = await historyTitle(new FsTaskStore({ source: s.source, basePath: s.basePath }), taskId);
      if (title !== null) return title;
    }
    return null;
  },
  async idle() {
    await device!.idle();
  },
  async close() {
    for (const remove of unwire.splice(0)) remove();
    await device?.close();
    statusPacer.close();
  },
  async listDevices() {
    const auth = device?.auth;
    if (!auth) throw new SyncError('AUTH_SIGNED_OUT', 'not signed in');
    return new RelayAuthClient(auth.credentials.serverUrl).listDevices(await auth.accessToken());
  },
  async sendCommand(target, command) {
    return requireClient().sendCommand(target, command);
  },
  async sendCommandResponse(commandId, status, result, error) {
    await requireClient().sendCommandResponse(commandId, status, result, error);
  },
  async updatePresence(state, activeTaskId) {
    device?.client?.updatePresence(state, activeTaskId as TaskId | undefined);
  },
  async migrate(since) {
    const storage = device?.storage;
    if (!device || !storage) throw new SyncError('DEVICE_NOT_SYNCING', `this window does not sync its stores (${device?.status.state ?? 'closed'})`);
    if (migration) throw new SyncError('MIGRATION_RUNNING', 'a migration is already running in this window');
    const owned = device.status.stores.filter((s) => s.role === 'syncing');
    const plan = await planMigration(owned.map((s) => new FsTaskStore({ source: s.source, basePath: s.basePath })), since === undefined ? {} : { since });
    migration = new AbortController();
    try {
      return await runMigration({ storage, plan, signal: migration.signal, onProgress: (event) => post({ t: 'migration-progress', event }) });
    } finally {
      migration = null;
    }
  },
  async cancelMigration() {
    migration?.abort();
  },
  async wire() {
    return device?.client?.wire ?? null;
  },
};

/** A task's title in `store` (history_item.json, else the store's index), or null: not there or unreadable. */
async function historyTitle(store: FsTaskStore, taskId: string): Promise<string | null> {
  const titleOf = (item: unknown) => {
    const task = (item as { task?: unknown } | null | undefined)?.task;
    return typeof task === 'string' && task.trim() ? task.trim() : null;
  };
  try {
    const path = store.taskFiles(taskId).historyItem;
    if (path) {
      const title = titleOf(JSON.parse(await readFile(path, 'utf8')));
      if (title) return title;
    }
  } catch {
    // Missing, half-written or not a task id: the index may still know it.
  }
  try {
    return titleOf((await store.indexEntries())?.get(taskId));
  } catch {
    return null;
  }
}

async function open(options: WorkerDeviceOptions): Promise<void> {
  const log = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) =>
    post({ t: 'log', level, message: fields && Object.keys(fields).length > 0 ? `${message} ${JSON.stringify(fields)}` : message });
  device = await SyncDevice.open({
    credentials: new MainThreadCredentials(options.lockDir),
    dataDir: options.dataDir,
    stores: options.stores,
    workspaces: options.workspaces.map((w) => ({ workspaceId: w.workspaceId, root: w.root, ignore: workspaceIgnore(w.include, w.exclude) })),
    holderName: options.holderName,
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    ...(options.watch ? { watch: options.watch } : {}),
    ...(options.compressThreshold === undefined ? {} : { client: { compressThreshold: options.compressThreshold } }),
  });
  device.onStatus(() => postStatus());
  post({ t: 'opened' });
  postStatus();
}

let exiting = false;
/** The host closed the channel (it ended, or it closed the device and let go): close the device and exit. */
process.on('disconnect', () => {
  if (exiting) return;
  exiting = true;
  const done = () => process.exit(0);
  const closing = device?.close() ?? Promise.resolve();
  closing.then(done, done);
});

process.on('message', (message: MainToWorker) => {
  switch (message.t) {
    case 'open':
      open(message.options).catch((error: unknown) => post({ t: 'open-failed', error: toWireError(error) }));
      break;
    case 'call': {
      const method = methods[message.method] as (...args: unknown[]) => Promise<unknown>;
      method(...message.args).then(
        (value) => post({ t: 'reply', id: message.id, value }),
        (error: unknown) => post({ t: 'reply', id: message.id, error: toWireError(error) }),
      );
      break;
    }
    case 'credentials-reply': {
      const pending = credentialReplies.get(message.id);
      credentialReplies.delete(message.id);
      if (!pending) break;
      if (message.error) pending.reject(new SyncError(message.error.code, message.error.message, message.error.details ?? {}));
      else pending.resolve(message.value);
      break;
    }
  }
});
