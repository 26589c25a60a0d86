/**
 * `npm run bench -- latency [--messages N] [--history N] [--tasks N] [--small]`: where the time goes
 * between an assistant's write on one device and the same message in the other device's file.
 *
 * Two SyncDevices (the runtime every shell uses) run in this process against a relay process
 * (the built `roo-sync server`) on a fresh PostgreSQL database. Device A's store holds one task
 * with `--history` messages of realistic size (support/realistic-messages.ts: ~0.6 MB of
 * ui_messages.json and ~2.4 MB of api_conversation_history.json at the default 400); B has
 * synced it before measuring (`--tasks N`: N such tasks, written round robin, as the Syncthing
 * bench does with 8). Then, `--messages` times, the assistant on A appends one message
 * in its real pattern (api, ui and history_item.json rewritten whole, each through a temp file
 * and a rename under the file's `.lock` folder), and the bench waits for it in B's
 * ui_messages.json (polled every 2 ms).
 *
 * Stages are timed by wrapping the adapters' methods in this process (no hook in the product):
 * watcher event (chokidar reports a file of the task), batch (the changed files were checked
 * against the disk and handed over), queued (detected and fsynced in the outbox), push sent,
 * ack (the relay committed), live in (B's socket got the fan-out), write (B's store starts
 * writing), written (renamed into place). Each is reported as ms after the write began.
 *
 * The frames both devices' sockets encode and decode meanwhile are counted by kind (push, ack,
 * live page, ping), JSON body and bytes on the wire, and the changes of each push by type.
 *
 * Figures: device.sync.p50_ms / device.sync.p99_ms, baseline the relay hop alone (push sent
 * on A to live page on B) in the same run.
 */
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signIn } from '../../core/client/sign-in';
import { RooCloudClient } from '../../core/node/client/roo-cloud-client';
import { FileCredentialsStore } from '../../core/node/credentials/file-credentials-store';
import { SyncDevice } from '../../core/node/device/sync-device';
import { FileOutbox } from '../../core/node/outbox/file-outbox';
import { FsTaskStore } from '../../core/node/stores/fs-task-store';
import { FileChangeDetector } from '../../core/node/watch/file-change-detector';
import { FrameCodec } from '../../core/protocol/frame';
import { AssistantWorkload } from '../support/assistant-workload';
import { buildCli, machineIn, runCli } from '../support/cli-process';
import { FileTextCache } from '../support/file-text-cache';
import { createTestDatabase } from '../support/postgres';
import { realisticPayloads } from '../support/realistic-messages';
import { createRelayNode } from '../support/relay-node';
import { percentile, type Benchmark, type Figure } from './figure';

const EMAIL = 'bench-latency@example.com';
const PASSWORD = 'bench-latency-password-1';
/** The tasks the assistant writes to, round robin (`--tasks`, default 1). */
const taskIdOf = (i: number): string => `01900000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`;

const STAGES = ['watch', 'batch', 'queued', 'pushSent', 'acked', 'liveIn', 'write', 'written', 'seen'] as const;
type Stage = (typeof STAGES)[number];

function flag(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  return at >= 0 && Number(args[at + 1]) >= 0 ? Number(args[at + 1]) : fallback;
}

/** Bytes of the frames of one probe: what its JSON body was and what went on the wire (header included). */
interface FrameBytes {
  frames: number;
  json: number;
  wire: number;
}

/** The probe in flight: ms after its write began, per stage (first occurrence only), and its frames by kind. */
let probe: { start: number; marks: Partial<Record<Stage, number>>; bytes: Record<string, FrameBytes> } | null = null;
function countFrame(kind: string, json: number, wire: number): void {
  if (!probe) return;
  const b = (probe.bytes[kind] ??= { frames: 0, json: 0, wire: 0 });
  b.frames++;
  b.json += json;
  b.wire += wire;
}
function mark(stage: Stage): void {
  if (probe && probe.marks[stage] === undefined) probe.marks[stage] = performance.now() - probe.start;
}

/** Wraps `proto[name]` so `before`/`after` see `this` around every call. */
function wrap(proto: object, name: string, before?: (self: any, args: unknown[]) => void, after?: (self: any) => void): () => void {
  const target = proto as Record<string, (...args: unknown[]) => unknown>;
  const original = target[name]!;
  target[name] = function (this: unknown, ...args: unknown[]) {
    before?.(this, args);
    const result = original.apply(this, args);
    if (after && result instanceof Promise) return result.then((value) => (after(this), value));
    return result;
  };
  return () => {
    target[name] = original;
  };
}

/** Counts every frame a FrameCodec of this process encodes or decodes into the probe (see countFrame). */
function wrapFrames(): () => void {
  const proto = FrameCodec.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const encode = proto.encode!;
  const decode = proto.decode!;
  proto.encode = function (this: unknown, message: unknown) {
    const wire = encode.call(this, message) as Uint8Array;
    const m = message as { type: string; changes?: Array<{ body: { type: string; stream?: string } }> };
    countFrame(`out ${m.type}`, JSON.stringify(m).length, wire.length);
    for (const change of m.changes ?? []) {
      const kind = change.body.type === 'stream.put' ? `${change.body.type} ${change.body.stream}` : change.body.type;
      countFrame(`change ${kind}`, JSON.stringify(change).length, 0);
    }
    return wire;
  };
  proto.decode = function (this: unknown, bytes: unknown) {
    const message = decode.call(this, bytes) as { type?: string; replyTo?: string };
    const kind = message.type === 'changes' && !message.replyTo ? 'live changes' : String(message.type);
    countFrame(`in ${kind}`, JSON.stringify(message).length, (bytes as Uint8Array).length);
    return message;
  };
  return () => {
    proto.encode = encode;
    proto.decode = decode;
  };
}

/** Resolves once `path` holds `needle`; polls every 2 ms (reading the file only when it changed). */
async function waitForText(files: FileTextCache, path: string, needle: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await files.read(path)).includes(needle)) {
    if (Date.now() > deadline) throw new Error(`${needle} did not reach ${path} in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export const benchmark: Benchmark = {
  name: 'latency',
  async run(args) {
    const messages = flag(args, 'messages', 60);
    const history = flag(args, 'history', 400);
    const taskCount = Math.max(1, flag(args, 'tasks', 1));
    const small = args.includes('--small');
    await buildCli();
    const db = await createTestDatabase();
    const dir = await mkdtemp(join(tmpdir(), 'roo-sync-bench-latency-'));
    const relay = await createRelayNode({ databaseUrl: db.url, env: { WS_RATE_LIMIT_PER_SECOND: '1000', WS_RATE_LIMIT_BURST: '5000' } });
    const unwrap: Array<() => void> = [];
    const devices: SyncDevice[] = [];
    try {
      await relay.start();
      const admin = await machineIn(join(dir, 'admin'));
      const added = await runCli(admin, ['user', 'add', EMAIL, '--database-url', db.url], { input: `${PASSWORD}\n` });
      if (added.code !== 0) throw new Error(`user add failed: ${added.stderr}`);
      const open = async (name: string) => {
        const store = join(dir, name, 'store');
        await mkdir(join(store, 'tasks'), { recursive: true });
        const credentials = new FileCredentialsStore(join(dir, name, 'credentials.json'));
        await signIn({ serverUrl: relay.url, email: EMAIL, password: PASSWORD, device: { name, kind: 'cli' } }, credentials);
        const device = await SyncDevice.open({ credentials, dataDir: join(dir, name, 'data'), stores: [{ source: 'roo-code', basePath: store }], holderName: `bench ${name}` });
        devices.push(device);
        await device.waitUntilOnline();
        return { device, store };
      };
      const a = await open('a');
      const b = await open('b');
      const assistant = new AssistantWorkload(a.store, 'a', 0, 1, small ? undefined : realisticPayloads(1));
      const tasks = Array.from({ length: taskCount }, (_, i) => taskIdOf(i));
      const files = new FileTextCache();
      const target = (taskId: string): string => join(b.store, 'tasks', taskId, 'ui_messages.json');
      const seedStarted = Date.now();
      for (const taskId of tasks) {
        const seeded = history > 0 ? await assistant.appendMany(taskId, history) : [await assistant.append(taskId)];
        await waitForText(files, target(taskId), assistant.needle(seeded.at(-1)!), 300_000);
      }
      await a.device.idle();
      await b.device.idle();
      const sizes = await Promise.all(['ui_messages.json', 'api_conversation_history.json'].map(async (f) => (await readFile(join(a.store, 'tasks', tasks[0]!, f))).length));
      console.log(`${taskCount} task(s) of ${history} messages (ui ${(sizes[0]! / 1e6).toFixed(2)} MB, api ${(sizes[1]! / 1e6).toFixed(2)} MB) synced to B in ${Date.now() - seedStarted} ms`);

      const aClient = a.device.client!;
      const bClient = b.device.client!;
      unwrap.push(
        wrap(FileChangeDetector.prototype, 'note', (self: FileChangeDetector, [, rel]) => {
          if (self.root === a.store && String(rel).startsWith('tasks/')) mark('watch');
        }),
        wrap(FileChangeDetector.prototype, 'deliver', (self: FileChangeDetector) => {
          if (self.root === a.store) mark('batch');
        }),
        wrap(FileOutbox.prototype, 'enqueue', undefined, () => mark('queued')),
        wrap(RooCloudClient.prototype, 'push', (self) => self === aClient && mark('pushSent'), (self) => self === aClient && mark('acked')),
        wrap(RooCloudClient.prototype, 'dispatch', (self, [, message]) => {
          if (self === bClient && (message as { type: string; changes?: unknown[] }).type === 'changes' && ((message as { changes: unknown[] }).changes.length ?? 0) > 0) mark('liveIn');
        }),
        // Frames of both devices' sockets (the relay is another process): pushes and pings out,
        // acks, pongs and live pages in. Changes in a push are also counted by type.
        wrapFrames(),
        wrap(FsTaskStore.prototype, 'writeTask', (self: FsTaskStore) => self.basePath === b.store && mark('write'), (self: FsTaskStore) => self.basePath === b.store && mark('written')),
      );

      const rows: Array<Partial<Record<Stage, number>>> = [];
      const bytes: Array<Record<string, FrameBytes>> = [];
      for (let i = 0; i < messages; i++) {
        probe = { start: performance.now(), marks: {}, bytes: {} };
        const taskId = tasks[i % tasks.length]!;
        const text = await assistant.append(taskId);
        await waitForText(files, target(taskId), assistant.needle(text));
        mark('seen');
        await a.device.idle();
        await b.device.idle();
        rows.push(probe.marks);
        bytes.push(probe.bytes);
        probe = null;
        // The assistant writes a message every few hundred ms or more.
        await new Promise((resolve) => setTimeout(resolve, 100));
      }

      console.log(`\n${messages} messages, ms after the write began (p50 / p99):`);
      for (const stage of STAGES) {
        const values = rows.map((r) => r[stage]).filter((v): v is number => v !== undefined);
        if (values.length === 0) console.log(`  ${stage.padEnd(9)} never`);
        else console.log(`  ${stage.padEnd(9)} ${percentile(values, 50).toFixed(1).padStart(7)} / ${percentile(values, 99).toFixed(1).padStart(7)}  (${values.length} of ${rows.length})`);
      }
      const seen = rows.map((r) => r.seen!);
      const hop = rows.filter((r) => r.pushSent !== undefined && r.liveIn !== undefined).map((r) => r.liveIn! - r.pushSent!);
      console.log(`  relay hop (push sent on A -> live page on B): p50 ${percentile(hop, 50).toFixed(1)} ms, p99 ${percentile(hop, 99).toFixed(1)} ms`);
      const kinds = [...new Set(bytes.flatMap((b) => Object.keys(b)))].sort();
      let wirePerMessage = 0;
      console.log(`\nframes per message on the devices' sockets (mean; JSON body -> on the wire):`);
      for (const kind of kinds) {
        const sum = (f: (b: FrameBytes) => number) => bytes.reduce((n, b) => n + (b[kind] ? f(b[kind]!) : 0), 0) / bytes.length;
        if (!kind.startsWith('change ')) wirePerMessage += sum((b) => b.wire);
        console.log(`  ${kind.padEnd(22)} ${sum((b) => b.frames).toFixed(2)} frames  ${sum((b) => b.json).toFixed(0).padStart(6)} B -> ${sum((b) => b.wire).toFixed(0).padStart(6)} B`);
      }
      console.log(`  all frames: ${wirePerMessage.toFixed(0)} B per message (plus WebSocket and TCP headers)`);
      const round = (n: number): number => Math.round(n * 10) / 10;
      const suffix = small ? '.small' : '';
      return [
        { name: `device.sync.p50_ms${suffix}`, value: round(percentile(seen, 50)), unit: 'ms', baseline: round(percentile(hop, 50)), target: '<= 100' },
        { name: `device.sync.p99_ms${suffix}`, value: round(percentile(seen, 99)), unit: 'ms', baseline: round(percentile(hop, 99)), target: '<= 500' },
      ];
    } finally {
      for (const undo of unwrap) undo();
      for (const device of devices) await device.close().catch(() => undefined);
      await relay.stop();
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
