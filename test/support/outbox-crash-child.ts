/**
 * Child process for the outbox crash test (test/core/outbox/outbox-crash.test.ts): opens the
 * journal and works it without pause until it is SIGKILLed, with several calls in flight at
 * once (so group commits and compactions are under way when the kill lands).
 *
 * Usage: node --require tsx/cjs outbox-crash-child.ts <journal> <seed> (the test runs an esbuild bundle of it)
 *
 * stdout carries one JSON object per line, written only after the call it reports settled
 * (stdout to a pipe is synchronous on Linux, so a printed line survives the kill):
 * - `{"ready":lastSeq}` once the journal is open
 * - `{"q":[[seq,"u",path]]}` unique file changes queued (never coalesced)
 * - `{"q":[[seq,"h",taskId,field,value]]}` a metadata field of a hot task queued (coalesced)
 * - `{"ai":[seq,...]}` printed BEFORE acknowledge() is called (those may vanish any time after)
 * - `{"a":[seq,...],"c":n}` acknowledge() resolved; n = compactions this run so far
 */
import { FileOutbox } from '../../core/node/outbox/file-outbox';
import { asTaskId, asWorkspaceId } from '../../core/ids';
import type { ChangeBody } from '../../core/model/changes';
import { createRng } from './rng';

const HOT_TASKS = ['hot-0', 'hot-1', 'hot-2'];
const IN_FLIGHT = 6;

async function main(): Promise<void> {
  const [journal, seedText] = process.argv.slice(2);
  const seed = Number(seedText);
  const rng = createRng(seed);
  const outbox = await FileOutbox.open(journal!, { compactMinGarbageBytes: 8 * 1024 });
  const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
  print({ ready: outbox.lastSeq });
  let counter = 0;
  let inFlight = 0;
  const acking = new Set<number>();

  const startOne = (): Promise<void> => {
    const roll = rng.next();
    if (roll < 0.6) {
      const paths = Array.from({ length: rng.int(1, 3) }, () => `u/${seed}/${++counter}`);
      const bodies: ChangeBody[] = paths.map((path) => ({
        type: 'file.put',
        workspaceId: asWorkspaceId('ws'),
        path,
        hash: 'a'.repeat(64),
        size: rng.int(0, 5000),
        mode: 0o644,
        mtime: counter,
        binary: false,
      }));
      return outbox
        .enqueue(bodies.map((body) => ({ body, baseSeq: null })))
        .then((queued) => void print({ q: queued.map((c, i) => [c.clientSeq, 'u', paths[i]]) }));
    }
    if (roll < 0.85) {
      const taskId = rng.pick(HOT_TASKS);
      const field = `f${seed}_${++counter}`;
      const value = rng.int(0, 1_000_000);
      const clock = `${String(counter).padStart(15, '0')}-000000-dev`;
      const body: ChangeBody = {
        type: 'task.meta',
        source: 'roo-code',
        taskId: asTaskId(taskId),
        fields: { [field]: value },
        clocks: { [field]: clock },
      };
      return outbox
        .enqueue([{ body, baseSeq: null }])
        .then(([c]) => void print({ q: [[c!.clientSeq, 'h', taskId, field, value]] }));
    }
    const seqs = outbox
      .pending()
      .filter((c) => c.body.type === 'file.put' && !acking.has(c.clientSeq))
      .slice(0, rng.int(1, 8))
      .map((c) => c.clientSeq);
    if (seqs.length === 0) return Promise.resolve();
    for (const s of seqs) acking.add(s);
    print({ ai: seqs });
    return outbox.acknowledge(seqs).then(() => void print({ a: seqs, c: outbox.stats.compactions }));
  };

  const pump = (): void => {
    while (inFlight < IN_FLIGHT) {
      inFlight++;
      startOne().then(
        () => {
          inFlight--;
          setImmediate(pump);
        },
        (err: unknown) => {
          process.stderr.write(`child error: ${String(err)}\n`);
          process.exit(3);
        },
      );
    }
  };
  pump();
}

main().catch((err: unknown) => {
  process.stderr.write(`child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(2);
});
