/**
 * One simulated device: its durable parts (task store, outbox, persisted sync state, workspace
 * files, entry cache) survive a crash; its volatile parts (HybridStorage, connection, the
 * assistant's in-memory copy of its tasks) do not.
 */
import { isSyncError } from '../../../core/errors';
import { asDeviceId, asTaskId, asWorkspaceId, type DeviceId, type TaskId } from '../../../core/ids';
import { MemoryOutbox } from '../../../core/outbox/memory-outbox';
import type { BlobStore } from '../../../core/ports/blob-store';
import type { RemoteEntries } from '../../../core/ports/remote-entries';
import type { TaskSnapshot, TaskStore } from '../../../core/ports/task-store';
import { HybridStorage, type UnrestorableEntry } from '../../../core/storage/hybrid-storage';
import { MemoryBlobStore } from '../../../core/storage/memory-blob-store';
import { MemorySyncStateStore } from '../../../core/storage/sync-state';
import { isTaskConflictCopy } from '../../../core/storage/task-conflict-copy';
import { MemoryWorkspaceFiles } from '../../../core/storage/workspace-files';
import { MemoryTaskStore } from '../memory-task-store';
import type { Rng } from '../rng';
import { CRASH_CODE, CrashGate, gatedBlobs, gatedFiles, gatedOutbox, gatedStateStore, gatedTaskStore } from './crash-gate';
import type { SimNetwork } from './sim-network';
import { SimTransport } from './sim-transport';

export const SIM_WORKSPACE = asWorkspaceId('ws-sim');

/** Errors a sync step may end with in the simulation without anything being wrong. */
const EXPECTED_FAILURES = new Set([CRASH_CODE, 'STORAGE_SYNC_FAILED', 'TRANSPORT_OFFLINE', 'TRANSPORT_DISCONNECTED']);

export class SimDevice {
  readonly deviceId: DeviceId;
  readonly store = new MemoryTaskStore({ source: 'roo-code' });
  /** Replaced by a fresh one when the simulation loses the device's journal (`loseOutbox`). */
  outbox = new MemoryOutbox();
  /** Times the outbox journal was lost (`loseOutbox`). */
  outboxLosses = 0;
  /** Queued, unacknowledged changes that went with lost journals. */
  lostQueued = 0;
  /** The relay's log head at each loss of a journal that still held changes. */
  readonly lossHeads: number[] = [];
  readonly stateStore = new MemorySyncStateStore();
  readonly files = new MemoryWorkspaceFiles(SIM_WORKSPACE);
  /**
   * The durable entry cache (FsEntryCache on a real device): kept across a process crash, and
   * replaced by an empty one when the simulation loses it (`loseEntryCache`: a power cut before
   * the OS wrote it out, a cleaned data folder), so the relay's copy must stand in.
   */
  entryCache = new MemoryBlobStore();
  /** Times the entry cache was lost (`loseEntryCache`). */
  entryCacheLosses = 0;
  /** Synced entries a detection could not restore, as reported (see HybridStorage.onUnrestorable). */
  readonly unrestorable: UnrestorableEntry[] = [];
  /**
   * The assistant is another process than the sync engine (`roo-sync sync` beside a running
   * assistant): when the engine dies, the assistant keeps its in-memory tasks and goes on
   * rewriting from them. Default false: both die together (one extension host).
   */
  assistantOutlivesSync = false;
  /** Hears every report as it is made (the simulation checks it against the relay right then). */
  onUnrestorable?: (entries: readonly UnrestorableEntry[]) => void;

  storage: HybridStorage | null = null;
  transport: SimTransport | null = null;
  private gate = new CrashGate();
  /** The assistant's in-memory copy of tasks (what a stale rewrite writes from). */
  readonly memory = new Map<string, TaskSnapshot>();
  /** The task the assistant is working on (kept across acts). */
  private activeTask: TaskId | undefined;
  /** The sync step in progress, if any. */
  busy: Promise<void> | null = null;
  crashes = 0;
  /** Unexpected errors of sync steps (a bug: the seed fails). */
  readonly failures: unknown[] = [];
  /** Every acceptance the relay reported to this device, across restarts. */
  readonly acknowledged: Array<{ clientSeq: number; seq: number }> = [];
  /**
   * Joined with a copy of another device's store (the convergence simulation's joins): until a
   * pull has reached the head of the log, each step is a full round (HybridStorage.syncRound),
   * which pulls first, as SyncDevice holds its watchers back until then.
   */
  detectsAfterCatchUp = false;
  /**
   * Steps that completed a whole detection after catching up (a full round, or a push step
   * started caught up): before the first, a joined device's local edits may not be queued yet.
   */
  detectionsDone = 0;
  /** Tasks whose files the simulation made unreadable at some time (see MemoryTaskStore.damage). */
  readonly damagedTasks = new Set<string>();
  /** Changes applied together when far behind (HybridStorage `pullApplyBatch`), from the next start. Default its own. */
  pullApplyBatch?: number;

  constructor(
    readonly index: number,
    deviceId: string,
    private readonly token: string,
    private readonly network: SimNetwork,
    private readonly relayBlobs: BlobStore,
    readonly now: () => number,
    /** The relay's read model (entries the entry cache lacks). Default none. */
    private readonly remoteEntries?: RemoteEntries,
  ) {
    this.deviceId = asDeviceId(deviceId);
  }

  get running(): boolean {
    return this.storage !== null;
  }

  /** (Re)starts the sync engine from the durable parts and connects. */
  async start(): Promise<void> {
    this.gate = new CrashGate();
    const gate = this.gate;
    const outbox = gatedOutbox(this.outbox, gate);
    this.transport = new SimTransport(this.network, this.deviceId, this.token, () => this.storage?.cursor ?? 0, this.acknowledged, outbox);
    this.storage = await HybridStorage.open({
      deviceId: this.deviceId,
      stores: [this.engineStore(gate)],
      outbox,
      transport: this.transport,
      stateStore: gatedStateStore(this.stateStore, gate),
      blobs: gatedBlobs(this.relayBlobs, gate),
      entryCache: gatedBlobs(this.entryCache, gate),
      remoteEntries: this.remoteEntries,
      workspaces: [gatedFiles(this.files, gate)],
      now: this.now,
      pullPageSize: 25,
      pushBatchSize: 20,
      ...(this.pullApplyBatch ? { pullApplyBatch: this.pullApplyBatch } : {}),
    });
    this.storage.onUnrestorable((entries) => {
      this.unrestorable.push(...entries);
      this.onUnrestorable?.(entries);
    });
    this.transport.connect();
  }

  /** While the device is down, its entry cache is lost (a power cut, a cleaned data folder). */
  loseEntryCache(): boolean {
    if (this.running) return false;
    this.entryCache = new MemoryBlobStore();
    this.entryCacheLosses++;
    return true;
  }

  /** The process dies now (or after `afterOperations` more durable writes, mid-step). */
  crash(afterOperations?: number): void {
    if (!this.storage) return;
    if (afterOperations !== undefined && this.busy) {
      this.gate.arm(afterOperations);
      return;
    }
    this.kill();
  }

  /** Lets `operations` more durable operations through, then crashes (whatever runs then). */
  armCrash(operations: number): void {
    this.gate.arm(operations);
  }

  /** Cancels an armed crash that has not gone off. */
  disarmCrash(): void {
    this.gate.disarm();
  }

  /** True when an armed crash went off. */
  get crashedMidStep(): boolean {
    return this.storage !== null && this.gate.crashed;
  }

  kill(): void {
    this.gate.trip();
    this.transport?.disconnect();
    this.storage = null;
    this.transport = null;
    if (!this.assistantOutlivesSync) this.memory.clear();
    this.crashes++;
  }

  /**
   * While the device is down, its outbox journal is lost (a deleted journal, a reinstall keeping
   * the device's credentials and sync state, a reset journal): the next start gets a fresh
   * outbox, numbering from 1 again, without the changes the old one still held. The sync state
   * tracks those as queued; HybridStorage must notice the new journal and queue them again.
   * `head` is the relay's log head now. Returns true when it happened.
   */
  loseOutbox(head: number): boolean {
    if (this.running) return false;
    if (this.outbox.size > 0) this.lossHeads.push(head);
    this.lostQueued += this.outbox.size;
    this.outbox = new MemoryOutbox();
    this.outboxLosses++;
    return true;
  }

  /** Starts a sync step unless one is running. */
  startStep(kind: 'to' | 'from'): void {
    if (!this.storage || this.busy) return;
    const storage = this.storage;
    const gate = this.gate;
    const round = this.detectsAfterCatchUp && !storage.caughtUp;
    const detectsAll = round || (kind === 'to' && storage.caughtUp);
    const step = round ? storage.syncRound() : kind === 'to' ? storage.syncToCloud() : storage.syncFromCloud();
    this.busy = step.then(
      () => {
        if (detectsAll) this.detectionsDone++;
      },
      (err: unknown) => {
        if (process.env.CONVERGENCE_DEBUG) console.log(`device ${this.index} step ${kind} failed:`, (err as Error).message, (err as Error).cause);
        if (!(isSyncError(err) && EXPECTED_FAILURES.has(err.code))) this.failures.push(err);
      },
    ).finally(() => {
      this.busy = null;
      // An armed crash belongs to this step only.
      gate.disarm();
    });
  }

  /**
   * The task store as the engine sees it: behind the crash gate, and watched for writes over a
   * damaged (unreadable) task, which the engine must leave alone until it reads again.
   */
  private engineStore(gate: CrashGate): TaskStore {
    const store = gatedTaskStore(this.store, gate);
    const refuse = (taskId: string): void => {
      if (this.store.isDamaged(taskId)) this.failures.push(new Error(`device ${this.index}: the engine changed task ${taskId} while its files could not be read`));
    };
    return {
      ...store,
      writeTask: (task) => (refuse(task.taskId), store.writeTask(task)),
      deleteTask: (taskId) => (refuse(taskId), store.deleteTask(taskId)),
    };
  }

  // ------------------------------------------------------------------ the assistant

  taskId(n: number): TaskId {
    return asTaskId(`t${this.index}x${n}`);
  }

  /** Reads a task as the assistant would (fresh from disk), remembering it. */
  async readFresh(taskId: TaskId): Promise<TaskSnapshot | null> {
    const task = await this.store.readTask(taskId);
    if (task) this.memory.set(taskId, task);
    return task;
  }

  async write(task: TaskSnapshot): Promise<void> {
    await this.store.writeTask(task);
    this.memory.set(task.taskId, structuredClone(task));
  }

  /** Assistant actions that are not sync steps: for workload generators. */
  async assistantAct(rng: Rng, nextTs: () => number, create = false): Promise<string> {
    // The simulated user does not work on (or delete) conflict copies of tasks: they hold what
    // a concurrent write displaced, which the convergence check looks for at the end.
    const ids = (await this.store.scan()).tasks.filter((t) => !isTaskConflictCopy(t.historyItem)).map((t) => t.taskId);
    const roll = rng.next();
    if (create || ids.length === 0 || (roll < 0.04 && ids.length < 4)) {
      const n = rng.int(0, 9999);
      const taskId = this.taskId(n);
      if (ids.includes(taskId)) return 'noop';
      const ts = nextTs();
      const text = `task ${n} from device ${this.index}`;
      await this.write({
        source: 'roo-code',
        taskId,
        ui: [{ ts, type: 'say', say: 'text', text }],
        api: [{ role: 'user', content: [{ type: 'text', text }] }],
        historyItem: { id: taskId, number: n, ts, task: text, tokensIn: 0, tokensOut: 0, totalCost: 0, mode: 'code' },
      });
      return 'create';
    }
    // Devices mostly keep working on one task (often the same one as other devices).
    if (this.activeTask === undefined || !ids.includes(this.activeTask) || rng.chance(0.15)) this.activeTask = rng.pick(ids);
    const taskId = this.activeTask;
    const stale = this.memory.get(taskId);
    // Like a real assistant, the active task is usually rewritten from memory, not re-read.
    const useStale = stale !== undefined && rng.chance(0.7);
    const task = useStale ? structuredClone(stale) : await this.readFresh(taskId);
    if (!task) return 'noop';
    if (roll < 0.35) {
      const last = task.ui[task.ui.length - 1] as { ts?: number } | undefined;
      // Now and then two messages share a ts (keys then count occurrences).
      const ts = last?.ts !== undefined && rng.chance(0.08) ? last.ts : nextTs();
      task.ui.push({ ts, type: 'say', say: rng.pick(['text', 'reasoning', 'api_req_started']), text: word(rng), partial: rng.chance(0.4) || undefined });
      await this.write(task);
      return useStale ? 'stale-append' : 'append-ui';
    }
    if (roll < 0.5) {
      task.api.push({ role: rng.pick(['user', 'assistant']), content: [{ type: 'text', text: word(rng) }] });
      await this.write(task);
      return 'append-api';
    }
    if (roll < 0.62) {
      const last = task.ui[task.ui.length - 1] as { text?: string; partial?: boolean } | undefined;
      if (!last) return 'noop';
      last.text = `${last.text ?? ''} ${word(rng)}`;
      if (rng.chance(0.5)) delete last.partial;
      await this.write(task);
      return 'rewrite-partial';
    }
    if (roll < 0.8) {
      const item = task.historyItem ?? { id: taskId };
      const field = rng.pick(['tokensIn', 'tokensOut', 'totalCost', 'task', 'mode', 'status']);
      if (field === 'tokensIn' || field === 'tokensOut') item[field] = Number(item[field] ?? 0) + rng.int(1, 500);
      else if (field === 'totalCost') item[field] = Math.round((Number(item[field] ?? 0) + rng.next()) * 1000) / 1000;
      else if (field === 'mode' && rng.chance(0.3)) delete item.mode;
      else item[field] = word(rng);
      task.historyItem = item;
      await this.write(task);
      return 'edit-meta';
    }
    if (roll < 0.82 && this.storage && !this.busy) {
      // The user deletes the task on purpose: a tombstone (never an absence).
      const storage = this.storage;
      await storage.deleteTask('roo-code', taskId).catch((err: unknown) => {
        if (!(isSyncError(err) && EXPECTED_FAILURES.has(err.code))) this.failures.push(err);
      });
      this.memory.delete(taskId);
      return 'delete-task';
    }
    if (task.ui.length > 2) {
      task.ui.splice(task.ui.length - rng.int(1, 2));
      await this.write(task);
      return 'delete-from-here';
    }
    return 'noop';
  }

  /** Workspace file edits: text (line edits), binary (with NUL bytes), rarely a delete. */
  async editFile(rng: Rng): Promise<string> {
    const path = rng.pick(['notes.md', 'src/a.ts', 'docs/readme.txt', 'img.bin']);
    const existing = await this.files.read(path);
    if (existing && rng.chance(0.05)) {
      await this.files.remove(path);
      return 'delete-file';
    }
    if (path.endsWith('.bin')) {
      const bytes = new Uint8Array(rng.int(4, 24)).map(() => rng.int(0, 255));
      bytes[0] = 0;
      await this.files.write(path, bytes, { mode: 0o644, mtime: this.now() });
      return 'edit-binary';
    }
    const lines = existing ? new TextDecoder().decode(existing).split('\n') : ['line 0', 'line 1', 'line 2', 'line 3'];
    const at = rng.int(0, lines.length - 1);
    if (rng.chance(0.5)) lines[at] = `${word(rng)} by ${this.index}`;
    else lines.splice(at, 0, `${word(rng)} added by ${this.index}`);
    await this.files.write(path, new TextEncoder().encode(lines.join('\n')), { mode: 0o644, mtime: this.now() });
    return 'edit-text';
  }
}

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'fox', 'golf', 'hotel', 'india', 'juliet'];

function word(rng: Rng): string {
  return `${rng.pick(WORDS)}-${rng.int(0, 999_999_999)}`;
}
