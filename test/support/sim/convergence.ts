/**
 * The seeded convergence simulation: 3-5 devices on the ReferenceRelay with random task
 * appends, partial-message rewrites, stale rewrites, "delete from here", metadata edits, text
 * and binary file edits, random frame delivery, disconnects and crashes (between any two
 * durable writes), some of which lose the device's outbox journal with whatever it still held,
 * so it numbers changes from 1 again (and must move above the relay's `lastClientSeq` before
 * pushing) and must queue the lost changes again from its sync state and disk. Now and then
 * (SIM_JOIN per step, default 0.01; once per seed) a new device joins with a copy of another
 * device's store, as `roo-sync backfill` leaves one, its assistant perhaps writing on the copy
 * first, and catches up in small apply batches: it must send back nothing the log held when the
 * copy was made, and must take every entry written on the copy as its own change. Now and then
 * (SIM_DAMAGE per step, default 0.02) a task's files on one device become unreadable (a write
 * cut short), and later are whole again: restored as they were, or rewritten by the assistant
 * from its memory with a new message; the engine must never write such a task while it cannot
 * be read, and must keep syncing every other task. Then the network heals (every damaged task
 * is restored) and every device syncs until nothing moves; every device must then hold exactly
 * what the relay's log describes.
 *
 * The same seed always runs the same simulation: `runConvergence(seed)` replays a failure.
 */
import { isDeepStrictEqual } from 'node:util';
import { asUserId } from '../../../core/ids';
import { compareEntryKeys, type EntryKey, type ServerChange, type StreamPutBody, type StreamTruncateBody } from '../../../core/model/changes';
import type { SyncState } from '../../../core/storage/sync-state';
import { hashJson, sha256Hex } from '../../../core/model/hash';
import { keyEntries } from '../../../core/tracking/stream-keys';
import { isConflictCopy } from '../../../core/merge/conflict-copy';
import { ReferenceRelay } from '../../../core/relay/reference-relay';
import { ManualScheduler } from '../../../core/relay/scheduler';
import { MemoryBlobStore } from '../../../core/storage/memory-blob-store';
import { isTaskConflictCopy } from '../../../core/storage/task-conflict-copy';
import { createRng, type Rng } from '../rng';
import { foldLog, type FoldedLog } from './log-fold';
import { SIM_WORKSPACE, SimDevice } from './sim-device';
import { SimNetwork } from './sim-network';
import { SimTransport } from './sim-transport';
import { SimRemoteEntries } from './sim-remote-entries';

export interface ConvergenceOptions {
  /** Chaos steps before healing, as a range the seed picks from. Default [20, 50]. */
  steps?: [number, number];
}

export interface ConvergenceResult {
  seed: number;
  devices: number;
  steps: number;
  /** Changes in the log at the end. */
  changes: number;
  crashes: number;
  /** Restarts with a fresh outbox journal (the old one lost). */
  outboxLosses: number;
  /** Queued, unacknowledged changes those lost journals held. */
  lostQueued: number;
  /** File conflicts that produced a conflict copy. */
  conflictCopies: number;
  /** Sync rounds the heal phase needed. */
  healRounds: number;
  /**
   * Acknowledged entry versions a concurrent put replaced in the log (its author had not seen
   * them): each must be in a task conflict copy on every device.
   */
  displacedEntries: number;
  /** Task conflict copies at the end (the same on every device). */
  taskCopies: number;
  /** Restarts whose durable entry cache was lost (the relay's copy had to stand in). */
  entryCacheLosses: number;
  /** Entries a detection could not restore when it ran (each checked: the relay did not hold that version). */
  unrestorableReports: number;
  /** Times a device asked the relay for entries its cache lacked. */
  relayEntryFetches: number;
  /** New devices that joined with a copy of another device's store. */
  joins: number;
  /** Times a task's files became unreadable on a device. */
  damages: number;
}

/** Thrown when a seed does not converge; the message starts with the seed. */
export class ConvergenceFailure extends Error {
  constructor(
    readonly seed: number,
    detail: string,
    steps?: [number, number],
  ) {
    super(`convergence seed ${seed} failed (replay: CONVERGENCE_SEED=${seed}${steps ? ` CONVERGENCE_STEPS=${steps.join('-')}` : ''}): ${detail}`);
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const MAX_HEAL_ROUNDS = 25;

export async function runConvergence(seed: number, options: ConvergenceOptions = {}): Promise<ConvergenceResult> {
  const rng = createRng(seed);
  const clock = { t: 1_760_000_000_000 };
  let ids = 0;
  // Devices never mutate what they receive, so the relay need not copy every frame.
  const relay = new ReferenceRelay({ scheduler: new ManualScheduler(), newId: (kind) => `${kind}-${++ids}`, isolateMessages: false });
  const userId = relay.addUser();
  const network = new SimNetwork(relay, rng.fork());
  const blobs = new MemoryBlobStore();
  const remoteEntries = new SimRemoteEntries(relay, userId);
  // Its own stream, so the seeds' other choices (and the regression seeds) stay as they were.
  const cacheRng = createRng(seed ^ 0x5eed_cace);
  const lossChance = Number(process.env.SIM_CACHE_LOSS ?? 0.3);
  // Its own stream too: a seed without a join runs as it did before joins existed.
  const joinRng = createRng(seed ^ 0x0101_c0de);
  const joinChance = Number(process.env.SIM_JOIN ?? 0.01);
  // And its own for damaged task files.
  const damageRng = createRng(seed ^ 0x0bad_f11e);
  const damageChance = Number(process.env.SIM_DAMAGE ?? 0.02);
  let damages = 0;
  const deviceCount = rng.int(3, 5);
  const devices: SimDevice[] = [];
  const droppedButHeld: string[] = [];
  const newDevice = (skew: number): SimDevice => {
    const { deviceId, token } = relay.addDevice(userId);
    const i = devices.length;
    const device = new SimDevice(i, deviceId, token, network, blobs, () => clock.t + skew, remoteEntries);
    // Nothing a stale rewrite dropped may be given up while the relay holds that very version.
    device.onUnrestorable = (entries) => {
      for (const e of entries) {
        if (remoteEntries.latest(e.source, e.taskId, e.stream, e.key)?.hash === e.hash) {
          droppedButHeld.push(`device ${i} gave up ${e.taskId} ${e.stream} ${e.key} (${e.hash.slice(0, 12)}) although the relay held it`);
        }
      }
    };
    devices.push(device);
    return device;
  };
  for (let i = 0; i < deviceCount; i++) newDevice(rng.int(-2000, 2000)).assistantOutlivesSync = cacheRng.chance(0.5);
  for (const device of devices) await device.start();
  /** New devices that joined with a copy of another's store (`roo-sync backfill`, a copied folder), and the log head then. */
  const joins: Join[] = [];
  /**
   * Once a joined device's first round is done, every entry its assistant wrote on the copy
   * before (nothing else wrote there since: its assistant waits for that round) must be tracked
   * as its own local change (queued or acknowledged; or displaced by a concurrent write since,
   * which keeps it in a conflict copy), unless its task was deleted on purpose or its files
   * could not be read since the join (detection could not see them): neither taken for the
   * relay's nor overwritten by the catch-up.
   */
  const checkJoinEdits = (): void => {
    for (const join of joins) {
      const joiner = devices.find((d) => d.deviceId === join.joiner)!;
      if (join.checked || joiner.detectionsDone === 0 || !joiner.storage) continue;
      join.checked = true;
      // The engine's state, read for the check only.
      const state = (joiner.storage as unknown as { state: SyncState }).state;
      for (const edit of join.edits) {
        const task = state.getTask('roo-code', edit.taskId);
        if (!task || task.deleted !== null || joiner.damagedTasks.has(edit.taskId)) continue;
        const tracked = task.streams[edit.stream].get(edit.key as EntryKey);
        // Its own change, or one a concurrent write already displaced (kept in a conflict copy).
        const taken = (tracked?.hash === edit.hash && tracked.own) || (tracked?.prev?.includes(edit.hash) ?? false);
        if (!taken) fail(`the joined device ${join.joiner} did not take ${edit.taskId} ${edit.stream} ${edit.key} (written on its copy) as its own change: ${JSON.stringify(tracked)}`);
      }
    }
  };

  let tsCounter = 0;
  const nextTs = (): number => clock.t * 16 + (tsCounter++ % 16);
  const steps = rng.int(...(options.steps ?? [20, 50]));
  const fail = (detail: string): never => {
    throw new ConvergenceFailure(seed, detail, options.steps);
  };
  const checkFailures = (): void => {
    for (const d of devices) if (d.failures.length) fail(`device ${d.index} step error: ${describe(d.failures[0])}`);
    if (droppedButHeld.length > 0) fail(droppedButHeld[0]!);
  };

  const drive = async (d: SimDevice, kind: 'to' | 'from'): Promise<void> => {
    d.startStep(kind);
    for (let spins = 0; d.busy; spins++) {
      if (spins > 10_000) fail(`device ${d.index} step never finished`);
      while (network.deliverOne());
      await settle();
    }
    if (d.crashedMidStep) {
      d.kill();
      await d.start();
    }
    checkFailures();
  };

  // ---------------------------------------------------------------- warm-up: shared tasks and files
  const first = devices[0]!;
  for (let n = rng.int(1, 2); n > 0; n--) await first.assistantAct(rng, nextTs, true);
  for (let n = rng.int(1, 2); n > 0; n--) await first.editFile(rng);
  await drive(first, 'to');
  for (const d of devices) {
    await drive(d, 'from');
    for (const taskId of await d.store.listTaskIds()) await d.readFresh(taskId);
  }

  // ---------------------------------------------------------------- chaos
  for (let step = 0; step < steps; step++) {
    clock.t += rng.int(1, 40);
    if (joins.length === 0 && joinRng.chance(joinChance)) {
      // A new machine whose store is a copy of another device's (its unsent edits too): its
      // first round must take what the relay has as synced, and send only what it lacks.
      const from = joinRng.pick(devices);
      const joiner = newDevice(joinRng.int(-2000, 2000));
      joiner.detectsAfterCatchUp = true;
      // Its catch-up applied in small batches, so a task's versions come in several.
      joiner.pullApplyBatch = joinRng.int(10, 60);
      for (const taskId of await from.store.listTaskIds()) await joiner.store.writeTask(from.store.peek(taskId)!);
      // Work done on the copy before its first sync: local edits, which must all reach the log.
      const copied = new Set((await entryHashes(joiner)).map((e) => e.hash));
      for (let n = joinRng.int(0, 3); n > 0; n--) await joiner.assistantAct(joinRng, nextTs);
      const edits = (await entryHashes(joiner)).filter((e) => !copied.has(e.hash));
      joins.push({ joiner: joiner.deviceId, from: from.deviceId, head: relay.serverCursor(userId), edits });
      await joiner.start();
    }
    if (damageRng.chance(damageChance)) damages += await damageOrRepair(damageRng, devices, nextTs);
    const device = rng.pick(devices);
    const roll = rng.next();
    // A joined device's assistant waits for its first round (see checkJoinEdits).
    const waits = device.detectsAfterCatchUp && device.detectionsDone === 0;
    if (roll < 0.3) {
      if (!waits) await device.assistantAct(rng, nextTs);
    } else if (roll < 0.38) {
      if (!waits) await device.editFile(rng);
    }
    else if (roll < 0.48) device.startStep(rng.chance(0.5) ? 'to' : 'from');
    else if (roll < 0.62) {
      // A whole sync step while the assistant keeps its (soon stale) copy of the tasks in memory.
      if (device.running && !device.busy && device.transport?.connected) await drive(device, roll < 0.54 ? 'to' : 'from');
    } else if (roll < 0.82) for (let n = rng.int(1, 10); n > 0 && network.deliverOne(); n--);
    else if (roll < 0.86) device.transport?.disconnect();
    else if (roll < 0.91) device.transport?.connect();
    else if (roll < 0.96) {
      if (device.running && !device.busy && rng.chance(0.3)) {
        // Work done offline and queued, then the process dies and its journal is lost with it.
        device.transport?.disconnect();
        await device.assistantAct(rng, nextTs);
        if (rng.chance(0.4)) await device.editFile(rng);
        await drive(device, 'to');
        device.kill();
        device.loseOutbox(relay.serverCursor(userId));
      } else device.crash(rng.chance(0.7) ? rng.int(0, 8) : undefined);
    }
    else if (!device.running) {
      if (rng.chance(0.35)) device.loseOutbox(relay.serverCursor(userId));
      if (cacheRng.chance(lossChance)) device.loseEntryCache();
      await device.start();
    }
    await settle();
    for (const d of devices) if (d.crashedMidStep) d.kill();
    checkFailures();
    checkJoinEdits();
  }

  // ---------------------------------------------------------------- heal
  for (const d of devices) for (const taskId of d.store.damagedIds()) d.store.repair(taskId);
  for (const d of devices) d.transport?.disconnect();
  await settle();
  for (const d of devices) {
    if (d.busy) await d.busy;
    if (d.crashedMidStep) d.kill();
    if (!d.running) {
      if (cacheRng.chance(lossChance)) d.loseEntryCache();
      await d.start();
    } else d.transport!.connect();
  }
  checkFailures();
  let healRounds = 0;
  let quietRounds = 0;
  // Quiet means two full rounds in a row in which nobody pushed anything and everyone caught up.
  while (quietRounds < 2) {
    if (++healRounds > MAX_HEAL_ROUNDS) fail(`did not quiesce in ${MAX_HEAL_ROUNDS} rounds`);
    const before = relay.serverCursor(userId);
    for (const d of devices) {
      clock.t += 10;
      await drive(d, 'to');
      await drive(d, 'from');
    }
    const head = relay.serverCursor(userId);
    if (process.env.CONVERGENCE_DEBUG) {
      console.log(`heal ${healRounds}: head ${before}->${head}`, devices.map((d) => [d.outbox.size, d.storage!.cursor, d.outbox.pending().map((c) => `${c.body.type}:${JSON.stringify(c.body).slice(0, 160)} base=${c.baseSeq}`)]));
    }
    const quiet = head === before && devices.every((d) => d.outbox.size === 0 && d.storage!.cursor === head);
    quietRounds = quiet ? quietRounds + 1 : 0;
  }

  // ---------------------------------------------------------------- check
  const log = await pullLog(relay, userId, network);
  const folded = foldLog(log);
  if (process.env.CONVERGENCE_DEBUG) {
    // Replaying a failing seed with CONVERGENCE_DEBUG=1 prints the whole log.
    for (const c of log) console.log('log', c.seq, c.deviceId, c.clientSeq, c.baseSeq, JSON.stringify(c.body).slice(0, 140));
  }
  checkNoEcho(log, devices, joins, fail);

  for (const d of devices) await checkDevice(d, folded, log, fail);
  const kept = keptEntries(log, folded);
  let taskCopies = 0;
  for (const d of devices) taskCopies = await checkKept(d, kept, fail);
  const reference = await snapshotDevice(devices[0]!);
  for (const d of devices.slice(1)) {
    const other = await snapshotDevice(d);
    if (!isDeepStrictEqual(reference, other)) fail(`device ${d.index} differs from device 0`);
  }
  return {
    seed,
    devices: devices.length,
    steps,
    changes: log.length,
    crashes: devices.reduce((n, d) => n + d.crashes, 0),
    outboxLosses: devices.reduce((n, d) => n + d.outboxLosses, 0),
    lostQueued: devices.reduce((n, d) => n + d.lostQueued, 0),
    conflictCopies: devices.reduce((n, d) => n + (d.storage?.fileConflicts.length ?? 0), 0),
    healRounds,
    displacedEntries: kept.displaced,
    taskCopies,
    entryCacheLosses: devices.reduce((n, d) => n + d.entryCacheLosses, 0),
    unrestorableReports: devices.reduce((n, d) => n + d.unrestorable.length, 0),
    relayEntryFetches: remoteEntries.calls,
    joins: joins.length,
    damages,
  };
}

/** Stream entry versions that must still exist at the end (see `keptEntries`). */
interface KeptEntries {
  puts: Array<{ seq: number; taskId: string; stream: 'ui' | 'api'; hash: string }>;
  /** Of those, how many the log itself replaced (they can only be in conflict copies). */
  displaced: number;
}

/**
 * Nothing lost: every entry version the relay acknowledged (a stream.put in the log) must be,
 * at the end, on every device in its task or in a task conflict copy, unless a later change
 * took it away on purpose:
 * - a later put of the same entry by the same device, or by a device that had seen it
 *   (`baseSeq` at or after it): an edit; for api entries only when it is the same message
 *   (role and content): the simulated assistant only appends api messages, so another message
 *   at the position is a stale rewrite, however it names its base;
 * - a later truncate of its stream that covers its key ("delete from here");
 * - a tombstone of its task.
 * A later put by a device that had not seen it (a concurrent write) is no excuse.
 */
function keptEntries(log: readonly ServerChange[], folded: FoldedLog): KeptEntries {
  const byEntity = new Map<string, ServerChange[]>();
  const truncates = new Map<string, ServerChange[]>();
  for (const change of log) {
    const into = change.body.type === 'stream.put' ? byEntity : change.body.type === 'stream.truncate' ? truncates : null;
    if (!into) continue;
    const list = into.get(change.entity) ?? [];
    list.push(change);
    into.set(change.entity, list);
  }
  const out: KeptEntries = { puts: [], displaced: 0 };
  for (const versions of byEntity.values()) {
    for (const put of versions) {
      const body = put.body as StreamPutBody;
      if (folded.tasks.get(`${body.source}/${body.taskId}`)?.deleted !== false) continue;
      const later = versions.filter((v) => v.seq > put.seq);
      // The simulated assistant never edits api entries in place (it only appends): another
      // message put over one of them, even with a base at or after it, is a stale rewrite and
      // no excuse. Only the same message (role and content) would be an edit.
      const edits = (v: ServerChange): boolean => (v.baseSeq ?? 0) >= put.seq && (body.stream === 'ui' || sameApiMessage(v.body as StreamPutBody, body));
      if (later.some((v) => v.deviceId === put.deviceId || edits(v))) continue;
      const streamEntity = put.entity.slice(0, put.entity.lastIndexOf('/'));
      const cut = (truncates.get(streamEntity) ?? []).some((t) => {
        const afterKey = (t.body as StreamTruncateBody).afterKey;
        return t.seq > put.seq && (afterKey === null || compareEntryKeys(body.key, afterKey) > 0);
      });
      if (cut) continue;
      out.puts.push({ seq: put.seq, taskId: body.taskId, stream: body.stream, hash: body.hash });
      if (later.length > 0 && later[later.length - 1]!.body.type === 'stream.put' && (later[later.length - 1]!.body as StreamPutBody).hash !== body.hash) out.displaced++;
    }
  }
  return out;
}

function sameApiMessage(a: StreamPutBody, b: StreamPutBody): boolean {
  const x = a.entry as { role?: unknown; content?: unknown };
  const y = b.entry as { role?: unknown; content?: unknown };
  return isDeepStrictEqual(x.role, y.role) && isDeepStrictEqual(x.content, y.content);
}

/** Checks `kept` against one device's tasks and copies; returns how many copies it holds. */
async function checkKept(d: SimDevice, kept: KeptEntries, fail: (detail: string) => never): Promise<number> {
  const hashes = new Map<string, { ui: Set<string>; api: Set<string> }>();
  const copies: Array<{ ui: Set<string>; api: Set<string> }> = [];
  for (const taskId of await d.store.listTaskIds()) {
    const task = (await d.store.readTask(taskId))!;
    const held = { ui: new Set(task.ui.map(hashJson)), api: new Set(task.api.map(hashJson)) };
    hashes.set(taskId, held);
    if (isTaskConflictCopy(task.historyItem)) copies.push(held);
  }
  for (const put of kept.puts) {
    if (hashes.get(put.taskId)?.[put.stream].has(put.hash)) continue;
    if (copies.some((copy) => copy[put.stream].has(put.hash))) continue;
    fail(`device ${d.index} lost acknowledged entry seq ${put.seq} (${put.taskId} ${put.stream} ${put.hash.slice(0, 12)}): in neither the task nor a conflict copy`);
  }
  return copies.length;
}

/** Reads the whole log through the protocol, as a fresh observer device. */
export async function pullLog(relay: ReferenceRelay, userId: string, network: SimNetwork): Promise<ServerChange[]> {
  const { deviceId, token } = relay.addDevice(asUserId(userId));
  const observer = new SimTransport(network, deviceId, token, () => 0);
  observer.connect();
  const changes: ServerChange[] = [];
  let cursor = 0;
  for (;;) {
    const request = observer.pull(cursor, 1000);
    let page: Awaited<typeof request> | undefined;
    void request.then((p) => (page = p));
    while (!page) {
      while (network.deliverOne());
      await settle();
    }
    changes.push(...page.changes);
    cursor = page.cursor;
    if (!page.hasMore) break;
  }
  observer.disconnect();
  return changes;
}

async function checkDevice(d: SimDevice, folded: FoldedLog, log: readonly ServerChange[], fail: (detail: string) => never): Promise<void> {
  const name = `device ${d.index}`;
  const taskIds = await d.store.listTaskIds();
  const expectedTasks = [...folded.tasks].filter(([, t]) => !t.deleted).map(([key]) => key.slice(key.indexOf('/') + 1));
  if (!isDeepStrictEqual([...taskIds].sort(), expectedTasks.sort())) {
    fail(`${name} holds tasks ${taskIds.join(',')} but the log has ${expectedTasks.join(',')}`);
  }
  for (const taskId of taskIds) {
    const task = (await d.store.readTask(taskId))!;
    const expected = folded.tasks.get(`roo-code/${taskId}`)!;
    for (const stream of ['ui', 'api'] as const) {
      if (!isDeepStrictEqual(task[stream], expected[stream])) {
        fail(`${name} task ${taskId} ${stream}: ${JSON.stringify(task[stream])} != log ${JSON.stringify(expected[stream])}`);
      }
    }
    if (!isDeepStrictEqual(task.historyItem, expected.historyItem)) {
      fail(`${name} task ${taskId} historyItem ${JSON.stringify(task.historyItem)} != log ${JSON.stringify(expected.historyItem)}`);
    }
  }
  const files = new Map<string, string>();
  for (const path of d.files.paths()) if (!isConflictCopy(path)) files.set(`${SIM_WORKSPACE}/${path}`, sha256Hex(d.files.peek(path)!));
  if (!isDeepStrictEqual(files, folded.files)) fail(`${name} files ${[...files.keys()]} != log ${[...folded.files.keys()]}`);
  // No version dropped without a copy: every conflict copy this device made is still there.
  for (const conflict of d.storage!.fileConflicts) {
    const copy = d.files.peek(conflict.copyPath);
    if (!copy || sha256Hex(copy) !== conflict.copyHash) fail(`${name} lost conflict copy ${conflict.copyPath}`);
  }
  // Every acceptance the relay reported to this device is in the log under this device.
  const bySeq = new Map(log.map((c) => [c.seq, c]));
  for (const ack of d.acknowledged) {
    const change = bySeq.get(ack.seq);
    if (!change || change.deviceId !== d.deviceId || change.clientSeq !== ack.clientSeq) fail(`${name} ack ${JSON.stringify(ack)} not in the log`);
  }
  const integrity = await d.storage!.validateDataIntegrity();
  if (!integrity.ok) fail(`${name} integrity: ${JSON.stringify(integrity.problems.slice(0, 3))}`);
}

/**
 * No echo: no device ever pushed an entry version that was already the latest in the log. One
 * exception: a device that lost a journal still holding changes sends its own latest version
 * again when the relay had stored it but the ack was lost with the journal (it cannot tell).
 */
/** A device that joined with a copy of `from`'s store when the log's head was `head`. */
interface Join {
  joiner: string;
  from: string;
  head: number;
  /** The entries its assistant wrote on the copy before it first synced. */
  edits: JoinEdit[];
  /** Whether `edits` were checked (after its first round). */
  checked?: boolean;
}

interface JoinEdit {
  taskId: string;
  stream: 'ui' | 'api';
  key: string;
  hash: string;
}

/** Every ui and api entry of the device's tasks: task, stream, key and content hash. */
async function entryHashes(d: SimDevice): Promise<JoinEdit[]> {
  const entries: JoinEdit[] = [];
  for (const taskId of await d.store.listTaskIds()) {
    const task = await d.store.readTask(taskId);
    if (!task) continue;
    for (const stream of ['ui', 'api'] as const) for (const e of keyEntries(stream, task[stream])) entries.push({ taskId, stream, key: e.key, hash: e.hash });
  }
  return entries;
}

/**
 * No device sends back a version the log already holds, except: a device re-sending its own
 * after losing its journal; and a joined device and the one it copied, which hold the same
 * unsent edits and may both send one, unless the log had it when the copy was made (the
 * joiner's first pull must then recognise it: task-adopt).
 */
function checkNoEcho(log: readonly ServerChange[], devices: readonly SimDevice[], joins: readonly Join[], fail: (detail: string) => never): void {
  const lossHeads = new Map(devices.map((d) => [d.deviceId as string, d.lossHeads]));
  const latest = new Map<string, { hash: string; seq: number; deviceId: string }>();
  for (const change of log) {
    const body = change.body;
    if (body.type === 'stream.truncate') {
      const prefix = `${change.entity}/`;
      for (const entity of [...latest.keys()]) {
        const key = entity.slice(prefix.length);
        if (entity.startsWith(prefix) && (body.afterKey === null || compareEntryKeys(key, body.afterKey) > 0)) latest.delete(entity);
      }
    }
    if (change.body.type !== 'stream.put') continue;
    const before = latest.get(change.entity);
    if (before?.hash === change.body.hash) {
      const resent = before.deviceId === change.deviceId && lossHeads.get(change.deviceId)!.some((head) => head >= before.seq && head < change.seq);
      const pair = (j: Join) => (j.joiner === change.deviceId && j.from === before.deviceId) || (j.from === change.deviceId && j.joiner === before.deviceId);
      const copiedUnsent = joins.some((j) => pair(j) && before.seq > j.head);
      if (!resent && !copiedUnsent) fail(`echo: seq ${change.seq} from ${change.deviceId} repeats ${change.entity}`);
    }
    latest.set(change.entity, { hash: change.body.hash, seq: change.seq, deviceId: change.deviceId });
  }
}

/**
 * Makes a task's files on one device unreadable (returns 1), or makes a damaged one whole again
 * (returns 0): restored as it was, or rewritten by the assistant from its memory with a new
 * message, as Roo Code does on its next message.
 */
async function damageOrRepair(rng: Rng, devices: readonly SimDevice[], nextTs: () => number): Promise<number> {
  const damaged = devices.flatMap((d) => d.store.damagedIds().map((taskId) => ({ d, taskId })));
  if (damaged.length === 0 || rng.chance(0.5)) {
    const d = rng.pick(devices);
    const ids = (await d.store.scan()).tasks.filter((t) => !isTaskConflictCopy(t.historyItem)).map((t) => t.taskId);
    if (ids.length === 0) return 0;
    const taskId = rng.pick(ids);
    d.store.damage(taskId);
    d.damagedTasks.add(taskId);
    return 1;
  }
  const { d, taskId } = rng.pick(damaged);
  const memory = d.memory.get(taskId);
  if (memory && rng.chance(0.5)) {
    const task = structuredClone(memory);
    task.ui.push({ ts: nextTs(), type: 'say', say: 'text', text: `rewritten over the damage on device ${d.index}` });
    await d.write(task);
  } else {
    d.store.repair(taskId);
  }
  return 0;
}

async function snapshotDevice(d: SimDevice): Promise<unknown> {
  const tasks: unknown[] = [];
  for (const taskId of await d.store.listTaskIds()) tasks.push(await d.store.readTask(taskId));
  const files = d.files.paths().filter((p) => !isConflictCopy(p)).map((p) => [p, sha256Hex(d.files.peek(p)!)]);
  return { tasks, files };
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${(err as { code?: string }).code ?? err.name}: ${err.message}\n${err.stack ?? ''}`;
  return String(err);
}

export type { Rng };
