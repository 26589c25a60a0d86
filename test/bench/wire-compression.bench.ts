/**
 * `wire`: bytes on the wire for realistic task histories, compressed vs uncompressed, same run.
 *
 * Workload: generated tasks (test/support/task-fixtures.ts) sent as `push` frames of
 * `stream.put` changes through one FrameCodec per connection, the way a device sends them:
 * - migration: a device uploads existing tasks, pushes of MIGRATION_BATCH changes;
 * - live: a running task, one push per new ui or api entry, in timestamp order.
 * Every frame is decoded by a second FrameCodec (the relay's end) and checked, so the figure
 * is for a codec that works. Figure: `wire.compression.reduction_pct` for what two Node peers
 * use by default (brotli + connection context, default thresholds); baseline: stateless
 * per-frame deflate at the 1 KB threshold, what a browser peer without context would get.
 * Also printed: brotli quality 4/5/6, the figure for the tasks without screenshots, and the
 * ceiling (the whole replay compressed as one stream, which no frame-by-frame scheme reaches).
 * `--tasks=N` changes the number of generated tasks (default 12; one in six has images).
 */
import { constants, brotliCompressSync } from 'node:zlib';
import { deflateSync } from 'fflate';
import type { Figure, Benchmark } from './figure';
import { entityKeyOf, type ClientChange } from '../../core/model/changes';
import { hashJson } from '../../core/model/hash';
import { asRequestId, asTaskId } from '../../core/ids';
import { nodeCodecRegistry } from '../../core/node/protocol/node-codecs';
import { FrameCodec, type FrameCodecOptions } from '../../core/protocol/frame';
import type { PushMessage } from '../../core/protocol/messages';
import { generateTaskHistory, type TaskHistoryOptions } from '../support/task-fixtures';

const MIGRATION_BATCH = 200;

interface Workload {
  migration: PushMessage[];
  live: PushMessage[];
  /** Pushes of the tasks that carry base64 images (already-compressed bytes). */
  withImages: Set<PushMessage>;
}

function buildWorkload(tasks: number): Workload {
  const workload: Workload = { migration: [], live: [], withImages: new Set() };
  let clientSeq = 0;
  let request = 0;
  for (let i = 0; i < tasks; i++) {
    const options: TaskHistoryOptions = {
      seed: 7000 + i,
      messages: 80 + ((i * 37) % 170),
      era: (['timestamp', 'uuid4', 'uuid7'] as const)[i % 3],
      historyShape: i % 4 === 3 ? 'cline' : 'roo',
      legacyRequest: i % 5 === 1,
      images: i % 6 === 5,
    };
    const task = generateTaskHistory(options);
    const source = options.historyShape === 'cline' ? 'cline' : 'roo-code';
    const changes: Array<{ ts: number; change: ClientChange }> = [];
    const occurrences = new Map<number, number>();
    const put = (stream: 'ui' | 'api', key: string, entry: unknown, ts: number) => {
      const body = { type: 'stream.put', source, taskId: asTaskId(task.taskId), stream, key, hash: hashJson(entry), entry } as const;
      entityKeyOf(body);
      changes.push({ ts, change: { clientSeq: ++clientSeq, baseSeq: null, body } });
    };
    for (const entry of task.ui) {
      const occurrence = occurrences.get(entry.ts) ?? 0;
      occurrences.set(entry.ts, occurrence + 1);
      put('ui', `${entry.ts}:${occurrence}`, entry, entry.ts);
    }
    task.api.forEach((entry, position) => put('api', String(position), entry, (entry as { ts?: number }).ts ?? 0));
    const push = (list: ClientChange[]): PushMessage => {
      const message: PushMessage = { type: 'push', id: asRequestId(`r${++request}`), changes: list };
      if (options.images) workload.withImages.add(message);
      return message;
    };
    if (i % 2 === 0) {
      for (let at = 0; at < changes.length; at += MIGRATION_BATCH) {
        workload.migration.push(push(changes.slice(at, at + MIGRATION_BATCH).map((c) => c.change)));
      }
    } else {
      changes.sort((a, b) => a.ts - b.ts);
      for (const { change } of changes) workload.live.push(push([change]));
    }
  }
  return workload;
}

interface Row {
  name: string;
  raw: number;
  wire: number;
  encodeMs: number;
  decodeMs: number;
}

/** Sends `messages` over one connection configured by `options`; counts bytes and time. */
function replay(name: string, messages: readonly PushMessage[], options: FrameCodecOptions): Row {
  const codecs = nodeCodecRegistry();
  const device = new FrameCodec({ codecs, ...options });
  const relay = new FrameCodec({ codecs, ...options });
  let encodeMs = 0;
  let decodeMs = 0;
  for (const message of messages) {
    let t = performance.now();
    const frame = device.encode(message);
    encodeMs += performance.now() - t;
    t = performance.now();
    const decoded = relay.decode(frame) as PushMessage;
    decodeMs += performance.now() - t;
    if (decoded.id !== message.id || decoded.changes.length !== message.changes.length) throw new Error(`${name}: frame did not round-trip`);
  }
  // The uncompressed figure is the same frames with codec none: header byte + JSON body.
  return { name, raw: device.stats.bodyBytesEncoded + device.stats.framesEncoded, wire: device.stats.wireBytesEncoded, encodeMs, decodeMs };
}

const CONFIGS: Array<[string, FrameCodecOptions]> = [
  ['none', { codec: 'none' }],
  ['deflate, per frame (1 KB threshold)', { codec: 'deflate', context: false }],
  ['deflate + connection context', { codec: 'deflate' }],
  ['brotli q5, per frame (1 KB threshold)', { codec: 'brotli', context: false }],
  ['brotli q5 + connection context (default)', { codec: 'brotli' }],
  ['brotli q5 + context, 1 KB threshold', { codec: 'brotli', compressThreshold: 1024 }],
];

const pct = (row: Row) => 100 * (1 - row.wire / row.raw);
const fmt = (row: Row) =>
  `  ${row.name.padEnd(44)} ${String(row.raw).padStart(9)} -> ${String(row.wire).padStart(9)} B  ${pct(row).toFixed(1).padStart(5)}%  enc ${row.encodeMs.toFixed(0).padStart(5)} ms  dec ${row.decodeMs.toFixed(0).padStart(4)} ms`;

function sum(name: string, rows: Row[]): Row {
  return rows.reduce((a, r) => ({ name, raw: a.raw + r.raw, wire: a.wire + r.wire, encodeMs: a.encodeMs + r.encodeMs, decodeMs: a.decodeMs + r.decodeMs }));
}

export const benchmark: Benchmark = {
  name: 'wire',
  async run(args) {
    const tasksArg = args.find((a) => a.startsWith('--tasks='));
    const workload = buildWorkload(tasksArg ? Number(tasksArg.slice(8)) : 12);
    console.log(`workload: ${workload.migration.length} migration frames, ${workload.live.length} live frames`);
    replay('warm-up', workload.live.slice(0, 200), { codec: 'brotli' });

    const totals = new Map<string, Row>();
    for (const [scenario, messages] of [['migration', workload.migration], ['live appends', workload.live]] as const) {
      console.log(`${scenario}:`);
      for (const [name, options] of CONFIGS) {
        const row = replay(name, messages, options);
        console.log(fmt(row));
        totals.set(name, totals.has(name) ? sum(name, [totals.get(name)!, row]) : row);
      }
    }
    console.log('both:');
    for (const row of totals.values()) console.log(fmt(row));

    console.log('brotli quality (migration + live, context on):');
    for (const quality of [4, 5, 6]) {
      const codecs = nodeCodecRegistry({ brotliQuality: quality });
      const rows = [workload.migration, workload.live].map((m) => replay(`q${quality}`, m, { codec: 'brotli', codecs }));
      console.log(fmt(sum(`brotli q${quality} + context`, rows)));
    }

    const textOnly = [workload.migration, workload.live].map((messages) =>
      replay('text-only', messages.filter((m) => !workload.withImages.has(m)), { codec: 'brotli' }),
    );
    console.log('tasks without images only (base64 screenshots do not compress):');
    console.log(fmt(sum('brotli q5 + connection context (default)', textOnly)));

    // What no per-frame scheme can beat: the whole replay compressed as one stream.
    const utf8 = new TextEncoder();
    const stream = utf8.encode([...workload.migration, ...workload.live].map((m) => JSON.stringify(m)).join('\n'));
    const deflated = deflateSync(stream, { level: 9 }).length;
    const brotlied = brotliCompressSync(stream, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_LGWIN]: 24 },
    }).length;
    const ceiling = (n: number) => (100 * (1 - n / stream.length)).toFixed(1);
    console.log(`ceiling, the whole replay as one stream: deflate-9 ${ceiling(deflated)}%, brotli-9 (16 MB window) ${ceiling(brotlied)}%`);

    const chosen = totals.get('brotli q5 + connection context (default)')!;
    const baseline = totals.get('deflate, per frame (1 KB threshold)')!;
    const figure: Figure = {
      name: 'wire.compression.reduction_pct',
      value: Number(pct(chosen).toFixed(1)),
      unit: '%',
      baseline: Number(pct(baseline).toFixed(1)),
      target: '>= 80',
    };
    return [figure];
  },
};
