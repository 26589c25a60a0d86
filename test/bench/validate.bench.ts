/**
 * `validate`: the cost of checking one incoming `push` of 250 `stream.put` changes, the work
 * the relay does for every push after the frame's JSON is parsed (`parseClientMessage`).
 *
 * Workload: realistic task histories (test/support/task-fixtures.ts), their ui and api entries
 * as `stream.put` changes in pushes of PUSH_SIZE, each serialised once as the frame body a
 * device sends. Figure: `protocol.validate.push250.us`, microseconds to validate one push
 * (median of ROUNDS rounds over every push); baseline: microseconds to `JSON.parse` the same
 * frame text, measured in the same run, for scale. Every validated push is checked to hold
 * all of its changes, so the figure is for a validator that accepts them.
 * `--rounds=N` changes the number of rounds (default 15).
 */
import { performance } from 'node:perf_hooks';
import { asRequestId, asTaskId } from '../../core/ids';
import type { ClientChange } from '../../core/model/changes';
import { hashJson } from '../../core/model/hash';
import type { PushMessage } from '../../core/protocol/messages';
import { parseClientMessage } from '../../core/protocol/validate';
import { generateTaskHistory, type TaskHistoryOptions } from '../support/task-fixtures';
import { median, type Benchmark, type Figure } from './figure';

const PUSH_SIZE = 250;
const TASKS = 12;

/** The frame texts of pushes of PUSH_SIZE stream.put changes (a partial last push is dropped). */
function buildPushes(): string[] {
  const changes: ClientChange[] = [];
  for (let i = 0; i < TASKS; i++) {
    const options: TaskHistoryOptions = {
      seed: 9100 + i,
      messages: 80 + ((i * 37) % 170),
      era: (['timestamp', 'uuid4', 'uuid7'] as const)[i % 3],
      historyShape: i % 4 === 3 ? 'cline' : 'roo',
      legacyRequest: i % 5 === 1,
      // Screenshots make frames large but add nothing to check: the entry is free-form.
      images: false,
    };
    const task = generateTaskHistory(options);
    const source = options.historyShape === 'cline' ? 'cline' : 'roo-code';
    const taskId = asTaskId(task.taskId);
    const occurrences = new Map<number, number>();
    for (const entry of task.ui) {
      const occurrence = occurrences.get(entry.ts) ?? 0;
      occurrences.set(entry.ts, occurrence + 1);
      const key = `${entry.ts}:${occurrence}`;
      changes.push({ clientSeq: changes.length + 1, baseSeq: null, body: { type: 'stream.put', source, taskId, stream: 'ui', key, hash: hashJson(entry), entry } });
    }
    task.api.forEach((entry, position) => {
      changes.push({ clientSeq: changes.length + 1, baseSeq: null, body: { type: 'stream.put', source, taskId, stream: 'api', key: String(position), hash: hashJson(entry), entry } });
    });
  }
  const frames: string[] = [];
  for (let at = 0; at + PUSH_SIZE <= changes.length; at += PUSH_SIZE) {
    const push: PushMessage = { type: 'push', id: asRequestId(`r${frames.length + 1}`), changes: changes.slice(at, at + PUSH_SIZE) };
    frames.push(JSON.stringify(push));
  }
  return frames;
}

/** Microseconds per push for one round of `work` over every parsed push. */
function round<T>(inputs: readonly T[], work: (input: T) => unknown): number {
  const start = performance.now();
  for (const input of inputs) work(input);
  return ((performance.now() - start) * 1000) / inputs.length;
}

export const benchmark: Benchmark = {
  name: 'validate',
  async run(args) {
    const roundsArg = args.find((a) => a.startsWith('--rounds='));
    const rounds = roundsArg ? Number(roundsArg.slice(9)) : 15;
    const frames = buildPushes();
    const parsed = frames.map((text) => JSON.parse(text) as unknown);
    const bytes = frames.reduce((n, f) => n + f.length, 0);
    console.log(`workload: ${frames.length} pushes of ${PUSH_SIZE} stream.put changes, ${(bytes / frames.length / 1024).toFixed(0)} KB of JSON each`);

    const validate = (value: unknown) => {
      const message = parseClientMessage(value) as PushMessage;
      if (message.changes.length !== PUSH_SIZE) throw new Error('validate: push lost changes');
    };
    // Warm-up: let the JIT settle on both code paths.
    for (let i = 0; i < 3; i++) {
      round(parsed, validate);
      round(frames, (text) => JSON.parse(text));
    }
    const validateUs: number[] = [];
    const parseUs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      validateUs.push(round(parsed, validate));
      parseUs.push(round(frames, (text) => JSON.parse(text)));
    }
    const value = median(validateUs);
    const baseline = median(parseUs);
    console.log(`parseClientMessage: ${value.toFixed(0)} µs per push (min ${Math.min(...validateUs).toFixed(0)}); JSON.parse of the same frame: ${baseline.toFixed(0)} µs`);
    const figure: Figure = { name: 'protocol.validate.push250.us', value: Number(value.toFixed(1)), unit: 'µs', baseline: Number(baseline.toFixed(1)), target: 'none' };
    return [figure];
  },
};
