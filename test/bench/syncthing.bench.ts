/**
 * `npm run bench -- syncthing [--messages N]`: roo-sync side by side with Syncthing (issue #15).
 * Two Syncthing 1.19 instances on loopback share one folder (support/syncthing-pair.ts: watcher
 * on at its 1 s minimum delay, no discovery, relays or NAT, compression always); two roo-sync
 * devices (`roo-sync sync` processes) sync another copy through a local relay
 * (support/fault-world.ts). Both links run through the fault proxy, which counts the bytes.
 * The same workload drives both, the assistant's real write pattern (every message rewrites
 * ui_messages.json, api_conversation_history.json and history_item.json whole):
 * 0. the store: 8 tasks of `--history` messages each (default 300) of realistic size
 *    (support/realistic-messages.ts: a ui text of 0.3-3 KiB and an api entry of 1-12 KiB per
 *    message, code-like text), about 0.45 MB of ui_messages.json and 1.9 MB of
 *    api_conversation_history.json per task, 19 MB in all: real tasks hold hundreds of
 *    messages and several MB (shared/reference/task-stores.md), and a rewrite of such a file
 *    is what Syncthing has to rescan and send in changed 128 KiB blocks. `--small` runs the
 *    old workload instead (40 one-line messages in all, files of a few KB);
 * 1. one machine writes: a message every 300 ms to one of 8 tasks; latency = write until the
 *    other machine's ui_messages.json holds it; bytes per message = proxy bytes / messages;
 * 2. both machines write the same task at once (each assistant from its own memory), then the
 *    copies settle: lost messages (written on either, missing from either final file) and
 *    corrupt or conflict files.
 * Needs `apt-get install syncthing` (benches install nothing). Every figure comes twice, with
 * `.roo_sync` and `.syncthing`; the baseline of each is the other tool's figure in the same run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssistantWorkload } from '../support/assistant-workload';
import { FileTextCache } from '../support/file-text-cache';
import { realisticPayloads } from '../support/realistic-messages';
import { startFaultWorld } from '../support/fault-world';
import { startSyncthingPair } from '../support/syncthing-pair';
import { outDirArg } from './faults.bench';
import { percentile, type Benchmark, type Figure } from './figure';

interface Side {
  name: 'roo_sync' | 'syncthing';
  storeA: string;
  storeB: string;
  bytes(): number;
  /** Resolves when both copies settled (nothing in flight). */
  settled(): Promise<void>;
}

export interface PeerResult {
  tool: string;
  latencies: number[];
  bytesPerMessage: number;
  lost: number;
  corruptOrConflict: number;
  /** [ms since start, messages seen on B] samples, for the throughput chart. */
  timeline: Array<[number, number]>;
}

const TASKS = 8;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const files = new FileTextCache();

async function uiText(store: string, taskId: string): Promise<string> {
  return files.read(join(store, 'tasks', taskId, 'ui_messages.json'));
}

/** What drives a run: messages measured, and the history each task starts with (0: the small workload). */
export interface Workload {
  messages: number;
  history: number;
}

/** Phase 1 and 2 on one tool. */
async function drive(side: Side, workload: Workload): Promise<PeerResult> {
  const { messages, history } = workload;
  const a = new AssistantWorkload(side.storeA, 'a', 0, 2, history > 0 ? realisticPayloads(1) : undefined);
  const b = new AssistantWorkload(side.storeB, 'b', 1, 2, history > 0 ? realisticPayloads(2) : undefined);
  const tasks = Array.from({ length: TASKS }, (_, i) => `task-${i}`);
  // A store with some history first, synced before measuring.
  if (history > 0) for (const task of tasks) await a.appendMany(task, history);
  else for (let i = 0; i < TASKS * 5; i++) await a.append(tasks[i % TASKS]!);
  const seeded = [...a.made.entries()].map(([taskId, list]) => [taskId, a.needle(list.at(-1)!)] as const);
  const seedStarted = Date.now();
  for (;;) {
    const texts = await Promise.all(tasks.map((t) => uiText(side.storeB, t)));
    if (seeded.every(([taskId, needle]) => texts[tasks.indexOf(taskId)]!.includes(needle))) break;
    if (Date.now() - seedStarted > 600_000) throw new Error(`${side.name} did not sync the seeded store in 10 minutes`);
    await pause(100);
  }
  await side.settled();
  const storeBytes = (await Promise.all(tasks.flatMap((t) => ['ui_messages.json', 'api_conversation_history.json'].map((f) => readFile(join(side.storeA, 'tasks', t, f)).then((x) => x.length, () => 0))))).reduce((x, y) => x + y, 0);
  console.log(`  ${side.name}: store of ${TASKS} tasks, ${(storeBytes / 1e6).toFixed(1)} MB, synced in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);

  // 1. One machine writes.
  const bytesBefore = side.bytes();
  const pending = new Map<string, { taskId: string; at: number }>();
  const latencies: number[] = [];
  const timeline: Array<[number, number]> = [];
  const started = Date.now();
  let polling = true;
  const poller = (async () => {
    while (polling || pending.size > 0) {
      const byTask = new Map<string, string>();
      for (const [text, { taskId, at }] of pending) {
        if (!byTask.has(taskId)) byTask.set(taskId, await uiText(side.storeB, taskId));
        if (byTask.get(taskId)!.includes(a.needle(text))) {
          latencies.push(Date.now() - at);
          pending.delete(text);
          timeline.push([Date.now() - started, latencies.length]);
        }
      }
      if (!polling && Date.now() - started > messages * 300 + 120_000) break;
      await pause(5);
    }
  })();
  for (let i = 0; i < messages; i++) {
    const taskId = tasks[i % TASKS]!;
    const at = Date.now();
    const text = await a.append(taskId);
    pending.set(text, { taskId, at });
    await pause(300);
  }
  polling = false;
  await poller;
  await side.settled();
  const bytesPerMessage = (side.bytes() - bytesBefore) / messages;
  const unseen = pending.size;

  // 2. Both machines write one task at once, each from its own memory.
  const shared = tasks[0]!;
  await b.open(shared);
  await a.open(shared);
  await Promise.all([a, b].map(async (assistant, i) => {
    await pause(i * 150);
    for (let n = 0; n < 20; n++) {
      await assistant.append(shared);
      await pause(300);
    }
  }));
  const written = [...new Set([...(a.made.get(shared) ?? []), ...(b.made.get(shared) ?? [])])];
  // Let both copies settle: until both files are equal and hold everything, or 60 s.
  const deadline = Date.now() + 60_000;
  for (;;) {
    await side.settled();
    const [ta, tb] = [await uiText(side.storeA, shared), await uiText(side.storeB, shared)];
    if ((ta === tb && written.every((t) => ta.includes(a.needle(t)))) || Date.now() > deadline) break;
    await pause(250);
  }
  const settleMs = Date.now() - (deadline - 60_000);
  let lost = 0;
  const missing: string[] = [];
  for (const store of [side.storeA, side.storeB]) {
    const text = await uiText(store, shared);
    const gone = written.filter((t) => !text.includes(a.needle(t)));
    lost += gone.length;
    missing.push(`${store === side.storeA ? 'A' : 'B'} lacks ${gone.length}${gone.length ? ` (${gone.slice(0, 4).join(', ')})` : ''}`);
  }
  console.log(`  ${side.name} concurrent phase: settled after ${(settleMs / 1000).toFixed(1)} s; ${missing.join('; ')}`);
  let corruptOrConflict = 0;
  for (const store of [side.storeA, side.storeB]) {
    for (const taskId of tasks) {
      const folder = join(store, 'tasks', taskId);
      for (const name of await readdir(folder).catch(() => [] as string[])) {
        if (name.includes('sync-conflict')) corruptOrConflict++;
        else if (name.endsWith('.json')) {
          try {
            JSON.parse(await readFile(join(folder, name), 'utf8'));
          } catch {
            corruptOrConflict++;
          }
        }
      }
    }
  }
  console.log(`  ${side.name}: ${latencies.length} of ${messages} messages replicated (${unseen} never), p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, ${Math.round(bytesPerMessage)} B/message; concurrent: ${lost} lost, ${corruptOrConflict} corrupt or conflict files`);
  return { tool: side.name, latencies, bytesPerMessage, lost: lost + unseen, corruptOrConflict, timeline };
}

export async function runSyncthingComparison(workload: Workload): Promise<{ roo: PeerResult; st: PeerResult }> {
  try {
    execFileSync('syncthing', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('syncthing is not installed: apt-get update && apt-get install -y syncthing (Debian 1.19)');
  }
  const root = await mkdtemp(join(tmpdir(), 'roo-sync-vs-syncthing-'));
  try {
    const pair = await startSyncthingPair(root, join(root, 'st-a'), join(root, 'st-b'));
    let st: PeerResult;
    try {
      await pair.ready(120_000);
      st = await drive({
        name: 'syncthing',
        storeA: pair.a.folder,
        storeB: pair.b.folder,
        bytes: () => pair.bytes(),
        async settled() {
          for (;;) {
            const states = await Promise.all([pair.a, pair.b].map((n) => pair.rest(n, 'db/status?folder=tasks').then((s) => (s as { state: string; needTotalItems: number }))));
            if (states.every((s) => s.state === 'idle' && s.needTotalItems === 0)) return;
            await pause(100);
          }
        },
      }, workload);
    } finally {
      await pair.close();
    }
    const world = await startFaultWorld();
    let roo: PeerResult;
    try {
      const [a, b] = await world.devices(2, 'vs-syncthing');
      // A device's first round on a loaded machine can take longer than online()'s default 30 s.
      await a!.device.online(180_000);
      await b!.device.online(180_000);
      roo = await drive({
        name: 'roo_sync',
        storeA: a!.device.storePath,
        storeB: b!.device.storePath,
        bytes: () => a!.link.bytes.up + a!.link.bytes.down + b!.link.bytes.up + b!.link.bytes.down,
        async settled() {
          // Settled when both devices print "synced" as their latest status.
          for (;;) {
            const last = [a!, b!].map((p) => p.device.log().trim().split('\n').filter((l) => /roo-sync: (synced|syncing|offline)/.test(l)).at(-1) ?? '');
            if (last.every((l) => l.endsWith('synced'))) return;
            await pause(50);
          }
        },
      }, workload);
    } finally {
      await world.close();
    }
    return { roo, st };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

export const benchmark: Benchmark = {
  name: 'syncthing',
  async run(args: string[]): Promise<Figure[]> {
    const at = args.indexOf('--messages');
    const messages = at >= 0 && Number(args[at + 1]) > 0 ? Number(args[at + 1]) : 100;
    const h = args.indexOf('--history');
    const history = args.includes('--small') ? 0 : h >= 0 && Number(args[h + 1]) > 0 ? Number(args[h + 1]) : 300;
    const { roo, st } = await runSyncthingComparison({ messages, history });
    const out = outDirArg(args);
    if (out) await writeFile(join(out, 'syncthing.json'), JSON.stringify({ roo, st }));
    const round = (n: number): number => Math.round(n * 10) / 10;
    const pair = (name: string, unit: string, r: number, s: number, target: string): Figure[] => [
      { name: `${name}.roo_sync`, value: round(r), unit, baseline: round(s), target },
      { name: `${name}.syncthing`, value: round(s), unit, baseline: round(r), target: 'none' },
    ];
    const p50 = (x: PeerResult): number => (x.latencies.length ? percentile(x.latencies, 50) : NaN);
    const p99 = (x: PeerResult): number => (x.latencies.length ? percentile(x.latencies, 99) : NaN);
    return [
      ...pair('peer.latency.p50_ms', 'ms', p50(roo), p50(st), `<= ${round(p50(st) / 10)} (10x below Syncthing)`),
      ...pair('peer.latency.p99_ms', 'ms', p99(roo), p99(st), `<= ${round(p99(st) / 10)} (10x below Syncthing)`),
      ...pair('peer.bytes_per_message', 'bytes', roo.bytesPerMessage, st.bytesPerMessage, `<= ${round(st.bytesPerMessage / 10)} (10x below Syncthing)`),
      ...pair('peer.lost_messages', 'messages', roo.lost, st.lost, '== 0'),
      ...pair('peer.corrupt_or_conflict_files', 'files', roo.corruptOrConflict, st.corruptOrConflict, '== 0'),
    ];
  },
};
