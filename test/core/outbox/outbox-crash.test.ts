/**
 * THE crash test: a real child process works the journal and is SIGKILLed at a random moment
 * (seeded); the parent reopens the journal and checks that every change the child reported as
 * queued is there exactly once, in order, and nothing is corrupt. Many kills on one journal,
 * so recovery of an already-recovered (and compacted) journal is covered too.
 *
 * The child (test/support/outbox-crash-child.ts) is bundled once with esbuild and run by plain
 * node: starting it through tsx costs over a second per kill on a loaded machine.
 * Replay a failure with OUTBOX_CRASH_SEED=<printed seed>.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileOutbox } from '../../../core/node/outbox/file-outbox';
import { entityKeyOf, type ClientChange } from '../../../core/model/changes';
import { build } from 'esbuild';
import { createRng } from '../../support/rng';

const CHILD_SOURCE = join(__dirname, '..', '..', 'support', 'outbox-crash-child.ts');
const KILLS = 25;

/** What the children reported, accumulated over all runs on one journal. */
interface Model {
  /** Unique file changes reported queued: seq -> path. */
  unique: Map<number, string>;
  /** Hot task fields reported queued: taskId -> field -> [seq, value]. */
  hot: Map<string, Map<string, [number, number]>>;
  /** Seqs an acknowledge() was issued for (they may be gone). */
  ackIssued: Set<number>;
  /** Seqs whose acknowledge() resolved (they must be gone). */
  acked: Set<number>;
  /** Highest seq any child reported. */
  maxSeq: number;
  /** Compactions the children reported (summed over runs). */
  compactions: number;
}

interface RunResult {
  lines: number;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs one child until it has printed `killAfter` lines, then SIGKILLs it; folds its output into the model. */
function runChild(
  childScript: string,
  journal: string,
  childSeed: number,
  killAfter: number,
  model: Model,
): Promise<RunResult> {
  const floor = model.maxSeq;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, journal, String(childSeed)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buffered = '';
    let lines = 0;
    let stderr = '';
    let ready = false;
    let runCompactions = 0;
    const fold = (line: string) => {
      const msg = JSON.parse(line) as {
        ready?: number;
        q?: Array<[number, 'u', string] | [number, 'h', string, string, number]>;
        ai?: number[];
        a?: number[];
        c?: number;
      };
      if (msg.ready !== undefined) {
        ready = true;
        assert.ok(msg.ready >= model.maxSeq, `reopened lastSeq ${msg.ready} < reported ${model.maxSeq}`);
      }
      for (const entry of msg.q ?? []) {
        const seq = entry[0];
        assert.ok(seq > floor, `seq ${seq} reused: an earlier run already reported up to ${floor}`);
        model.maxSeq = Math.max(model.maxSeq, seq);
        if (entry[1] === 'u') model.unique.set(seq, entry[2]);
        else {
          const fields = model.hot.get(entry[2]) ?? new Map<string, [number, number]>();
          fields.set(entry[3], [seq, entry[4]]);
          model.hot.set(entry[2], fields);
        }
      }
      for (const s of msg.ai ?? []) model.ackIssued.add(s);
      for (const s of msg.a ?? []) model.acked.add(s);
      if (msg.c !== undefined) runCompactions = msg.c;
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          fold(line);
        } catch (err) {
          child.kill('SIGKILL');
          reject(err);
          return;
        }
        if (ready && ++lines === killAfter) child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    // 'close' comes after the process exited and its pipes were drained.
    child.on('close', (code, signal) => {
      model.compactions += runCompactions;
      resolve({ lines, stderr, code, signal });
    });
  });
}

/** Reopens the journal and checks it against everything the children reported. */
async function verify(journal: string, model: Model, context: string): Promise<void> {
  const outbox = await FileOutbox.open(journal);
  try {
    assert.notEqual(outbox.recovery.defect?.kind, 'corrupt', `${context}: ${JSON.stringify(outbox.recovery.defect)}`);
    const pending = outbox.pending();
    const seqs = pending.map((c) => c.clientSeq);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i]! > seqs[i - 1]!, `${context}: order at ${i}`);
    assert.ok(outbox.lastSeq >= model.maxSeq, `${context}: lastSeq ${outbox.lastSeq} < ${model.maxSeq}`);

    const bySeq = new Map<number, ClientChange>(pending.map((c) => [c.clientSeq, c]));
    const entities = new Map<string, number>();
    for (const c of pending) entities.set(entityKeyOf(c.body), (entities.get(entityKeyOf(c.body)) ?? 0) + 1);
    for (const [entity, count] of entities) assert.equal(count, 1, `${context}: ${entity} queued ${count} times`);

    for (const [seq, path] of model.unique) {
      const found = bySeq.get(seq);
      if (model.acked.has(seq)) {
        assert.equal(found, undefined, `${context}: acknowledged ${seq} still queued`);
      } else if (found === undefined) {
        assert.ok(model.ackIssued.has(seq), `${context}: queued change ${seq} (${path}) lost`);
      } else {
        assert.equal(found.body.type === 'file.put' && found.body.path, path, `${context}: ${seq} holds another change`);
      }
    }
    for (const [taskId, fields] of model.hot) {
      const changes = pending.filter((c) => c.body.type === 'task.meta' && c.body.taskId === taskId);
      assert.equal(changes.length, 1, `${context}: hot task ${taskId} queued ${changes.length} times`);
      const [meta] = changes;
      for (const [field, [seq, value]] of fields) {
        assert.ok(meta!.clientSeq >= seq, `${context}: ${taskId} coalesced change older than ${seq}`);
        assert.equal(meta!.body.type === 'task.meta' && meta!.body.fields[field], value, `${context}: ${taskId}.${field} lost`);
      }
    }
  } finally {
    await outbox.close();
  }
}

describe('FileOutbox under SIGKILL', function () {
  this.timeout(120_000);
  let dir: string;
  let childScript: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'roo-outbox-crash-'));
    childScript = join(dir, 'outbox-crash-child.js');
    await build({ entryPoints: [CHILD_SOURCE], outfile: childScript, bundle: true, platform: 'node', format: 'cjs', logLevel: 'error' });
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it(`keeps every change reported as queued, exactly once and in order, across ${KILLS} kills`, async () => {
    const seed = Number(process.env.OUTBOX_CRASH_SEED ?? Date.now() % 1_000_000);
    console.log(`      outbox crash test seed ${seed} (replay: OUTBOX_CRASH_SEED=${seed})`);
    const rng = createRng(seed);
    const journal = join(dir, 'outbox.journal');
    const model: Model = { unique: new Map(), hot: new Map(), ackIssued: new Set(), acked: new Set(), maxSeq: 0, compactions: 0 };
    let totalLines = 0;
    for (let run = 1; run <= KILLS; run++) {
      const killAfter = rng.int(1, 150);
      const started = Date.now();
      const result = await runChild(childScript, journal, rng.int(1, 2 ** 31), killAfter, model);
      const ran = Date.now();
      const context = `seed ${seed} run ${run} (kill after ${killAfter} lines)`;
      assert.equal(result.signal, 'SIGKILL', `${context}: child ended on its own (code ${result.code}): ${result.stderr}`);
      totalLines += result.lines;
      await verify(journal, model, context);
      if (process.env.OUTBOX_CRASH_TIMING) console.log(`      run ${run}: child ${ran - started} ms, verify ${Date.now() - ran} ms`);
    }
    assert.ok(model.unique.size > 100, `only ${model.unique.size} changes were reported`);
    assert.ok(model.acked.size > 0 && model.hot.size > 0);
    assert.ok(model.compactions > 0, 'the children never compacted: kills did not meet a compaction');
    console.log(
      `      ${KILLS} kills, ${totalLines} reports, ${model.unique.size} unique changes, ` +
        `${model.acked.size} acknowledged, ${model.compactions}+ compactions`,
    );
  });
});
