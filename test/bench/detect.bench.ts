/**
 * `detect`: change detection for one message appended to a 20 MB ui_messages.json.
 *
 * - `detect.append.20MB.bytes_ratio`: bytes of the produced change bodies (their JSON) per
 *   byte of the appended message's JSON (baseline: re-uploading the whole file).
 * - `detect.append.20MB.ms`: time from the rewritten file on disk to the change bodies, as a
 *   running device does it: FsTaskStore.readTask (read, incremental parse against its last
 *   read, keys and hashes of the new entries only) then the diff against the synced state;
 *   baseline: `JSON.parse` of the file alone. The in-memory part alone and the cold path
 *   (first read after a start: full parse, key and hash) are printed too.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsTaskStore } from '../../core/node/stores';
import { asTaskId } from '../../core/ids';
import { diffKeyedStream, diffStream, streamChangeBodies, type TrackedEntry } from '../../core/tracking/stream-diff';
import { parseStreamText } from '../../core/tracking/stream-text';
import { createRng } from '../support/rng';
import { generateTaskHistory, generateUiMessage } from '../support/task-fixtures';
import { median, type Benchmark, type Figure } from './figure';

const TARGET_BYTES = 20 * 1024 * 1024;
const RUNS = 9;

export const benchmark: Benchmark = {
  name: 'detect',
  async run(): Promise<Figure[]> {
    const task = generateTaskHistory({ seed: 20, messages: 20_500 });
    // Keep the longest prefix of messages that fits in 20 MB.
    let bytes = 2;
    let count = 0;
    for (const message of task.ui) {
      const size = Buffer.byteLength(JSON.stringify(message)) + 1;
      if (bytes + size > TARGET_BYTES) break;
      bytes += size;
      count++;
    }
    const ui = task.ui.slice(0, count) as Array<{ ts: number }>;
    // As read from disk: one flat string.
    const fileText = Buffer.from(JSON.stringify(ui)).toString('utf8');
    const fileBytes = Buffer.byteLength(fileText);
    const taskId = asTaskId(task.taskId);

    const previous = parseStreamText('ui', fileText);
    const synced: TrackedEntry[] = previous.keyed.map((e) => ({ key: e.key, hash: e.hash, own: true }));
    const rng = createRng(21);
    const lastTs = ui[ui.length - 1]!.ts;

    // The same file in a real Roo Code store on disk, read once so the store holds its parse.
    const base = await mkdtemp(join(tmpdir(), 'roo-detect-'));
    const taskDir = join(base, 'tasks', task.taskId);
    await mkdir(taskDir, { recursive: true });
    await writeFile(join(taskDir, 'ui_messages.json'), fileText);
    await writeFile(join(taskDir, 'api_conversation_history.json'), '[]');
    await writeFile(join(taskDir, 'history_item.json'), JSON.stringify(task.historyItem));
    const store = new FsTaskStore({ source: 'roo-code', basePath: base });
    await store.readTask(taskId);

    const storeMs: number[] = [];
    const detectMs: number[] = [];
    const coldMs: number[] = [];
    const parseMs: number[] = [];
    const ratios: number[] = [];
    const messageSizes: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const message = generateUiMessage(rng, lastTs + 1000 * (run + 1));
      const messageJson = JSON.stringify(message);
      const nextText = Buffer.from(`${fileText.slice(0, -1)},${messageJson}]`).toString('utf8');

      let start = performance.now();
      JSON.parse(nextText);
      parseMs.push(performance.now() - start);

      await writeFile(join(taskDir, 'ui_messages.json'), nextText);
      start = performance.now();
      const snapshot = (await store.readTask(taskId))!;
      const fromStore = streamChangeBodies('roo-code', taskId, 'ui', diffKeyedStream(snapshot.keyed!.ui!, synced));
      storeMs.push(performance.now() - start);
      if (fromStore.length !== 1) throw new Error('expected exactly one put through the store');
      // Back to the synced file, so the next run is again a single append to it.
      await writeFile(join(taskDir, 'ui_messages.json'), fileText);
      await store.readTask(taskId);

      start = performance.now();
      const parsed = parseStreamText('ui', nextText, previous);
      const bodies = streamChangeBodies('roo-code', taskId, 'ui', diffKeyedStream(parsed.keyed, synced));
      detectMs.push(performance.now() - start);

      if (run < 3) {
        start = performance.now();
        diffStream('ui', JSON.parse(nextText) as unknown[], synced);
        coldMs.push(performance.now() - start);
      }

      if (bodies.length !== 1 || bodies[0]!.type !== 'stream.put') throw new Error('expected exactly one put');
      messageSizes.push(Buffer.byteLength(messageJson));
      ratios.push(Buffer.byteLength(JSON.stringify(bodies)) / Buffer.byteLength(messageJson));
    }

    await rm(base, { recursive: true, force: true });
    const value = median(storeMs);
    const baseline = median(parseMs);
    // A typical message: the median over the appended ones (the fixed fields of a put body,
    // ~190 bytes with the 64-hex hash, weigh more on tiny messages; the worst is printed).
    const ratio = median(ratios);
    const messageBytes = median(messageSizes);
    console.log(`ui_messages.json: ${(fileBytes / 1e6).toFixed(1)} MB, ${ui.length} messages; ${RUNS} appends of one message`);
    console.log(`change bytes / message bytes: median ${ratio.toFixed(3)}, worst ${Math.max(...ratios).toFixed(3)} (baseline, re-uploading the file: ${Math.round(fileBytes / messageBytes)}; messages ${Math.min(...messageSizes)}-${Math.max(...messageSizes)} bytes)`);
    console.log(`detection from disk (FsTaskStore.readTask + diff + bodies): median ${value.toFixed(1)} ms; JSON.parse alone: median ${baseline.toFixed(1)} ms`);
    console.log(`  of which in memory (incremental parse + diff + bodies): median ${median(detectMs).toFixed(1)} ms`);
    console.log(`cold detection (full parse, key, hash, diff; first read after a start): median ${median(coldMs).toFixed(1)} ms`);
    return [
      { name: 'detect.append.20MB.bytes_ratio', value: round(ratio), unit: 'ratio (change bytes / message bytes)', baseline: round(fileBytes / messageBytes), target: '<= 2' },
      { name: 'detect.append.20MB.ms', value: round(value), unit: 'ms', baseline: round(baseline), target: 'none' },
    ];
  },
};

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
