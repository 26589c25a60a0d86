/**
 * A realistic mixed workload: two devices work offline on the same tasks and workspace, then
 * meet. Every concurrent change to one entity is a conflict for the ConflictResolver; the share
 * it settles without the user (no conflict copy to look at) must be at least 95% (DESIGN.md).
 */
import assert from 'node:assert/strict';
import { asTaskId } from '../../../core/ids';
import type { StreamPutBody } from '../../../core/model/changes';
import { hashJson, sha256Hex } from '../../../core/model/hash';
import { formatHlc } from '../../../core/model/hlc';
import { ConflictResolver, type FileResolution, type FileVersion } from '../../../core/merge/conflict-resolver';
import { mergeTaskMeta, type MetaState } from '../../../core/merge/metadata-merge';
import { applyStreamChanges } from '../../../core/merge/stream-merge';
import { keyEntries } from '../../../core/tracking/stream-keys';
import { createRng, type Rng } from '../../support/rng';
import { generateTaskHistory, generateUiMessage } from '../../support/task-fixtures';

const SEED = 2026;
const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** A source file: unique, code-like lines. */
function sourceFile(rng: Rng, id: number): string[] {
  return Array.from({ length: rng.int(40, 400) }, (_, i) => `  const v${id}_${i} = compute(${rng.int(0, 999)});\n`);
}

/** One device's offline session on a file: 1-3 local edits (change, insert or delete a few lines). */
function editFile(rng: Rng, lines: string[], tag: string): { lines: string[]; added: string[] } {
  const out = [...lines];
  for (let e = rng.int(1, 3); e > 0; e--) {
    const at = rng.int(0, Math.max(0, out.length - 1));
    const fresh = Array.from({ length: rng.int(1, 4) }, (_, i) => `  // ${tag} edit ${e}.${i}\n`);
    const op = rng.int(0, 2);
    if (op === 0) out.splice(at, rng.int(1, 3), ...fresh);
    else if (op === 1) out.splice(at, 0, ...fresh);
    else out.splice(at, rng.int(1, 2));
  }
  // A later edit may have replaced an earlier one: what was added is what is left.
  return { lines: out, added: out.filter((line) => line.startsWith(`  // ${tag} edit`)) };
}

const fileVersion = (bytes: Uint8Array, mtime: number, binary: boolean): FileVersion => ({ bytes, hash: sha256Hex(bytes), mtime, binary });

describe('ConflictResolver on a realistic mixed workload', () => {
  it(`settles at least 95% of conflicts without the user (seed ${SEED})`, () => {
    const rng = createRng(SEED);
    const laptop = new ConflictResolver({ deviceId: 'laptop' });
    const at = new Date(Date.UTC(2026, 10, 26));
    const tally = { streams: 0, meta: 0, files: 0, fileCopies: 0, binary: 0, deleteVsEdit: 0 };
    const taskId = asTaskId('task');

    for (let day = 0; day < 20; day++) {
      // Tasks: both devices continue the same tasks (each appends to the ui stream and updates metadata).
      for (let t = 0; t < 5; t++) {
        const task = generateTaskHistory({ seed: rng.int(1, 1e9), messages: rng.int(5, 40) });
        const synced = keyEntries('ui', task.ui);
        const lastTs = (task.ui.at(-1) as { ts: number }).ts;
        const appends = (device: Rng, count: number, offset: number): StreamPutBody[] =>
          Array.from({ length: count }, (_, i) => {
            const entry = generateUiMessage(device, lastTs + offset + i * rng.int(2_000, 90_000));
            return { type: 'stream.put', source: 'roo-code', taskId, stream: 'ui', key: `${entry.ts}:0`, hash: hashJson(entry), entry };
          });
        const fromLaptop = appends(rng.fork(), rng.int(1, 6), rng.int(1, 50_000));
        const fromPc = appends(rng.fork(), rng.int(1, 6), rng.int(1, 50_000) + 7);
        const merged = applyStreamChanges(synced, [...fromLaptop, ...fromPc]);
        assert.equal(merged.length, synced.length + fromLaptop.length + fromPc.length, 'stream union lost an entry');
        tally.streams++;

        const stamp = (wall: number, device: string) => formatHlc({ wall, counter: 0, deviceId: device });
        const laptopMeta: MetaState = { fields: { tokensIn: 100 + rng.int(0, 50), status: 'active' }, clocks: { tokensIn: stamp(10, 'laptop'), status: stamp(10, 'laptop') } };
        const pcMeta: MetaState = { fields: { tokensIn: 120 + rng.int(0, 50), status: 'completed' }, clocks: { tokensIn: stamp(11, 'pc'), status: stamp(11, 'pc') } };
        const meta = mergeTaskMeta(laptopMeta, pcMeta);
        assert.equal(meta.fields.tokensIn, Math.max(laptopMeta.fields.tokensIn as number, pcMeta.fields.tokensIn as number));
        assert.equal(meta.fields.status, 'completed');
        tally.meta++;
      }

      // Workspace: 30 text and 3 binary files; each device edits a few (hot files more often).
      const files = Array.from({ length: 30 }, (_, id) => sourceFile(rng, id));
      const pickHot = () => Math.min(files.length - 1, Math.floor(files.length * rng.next() ** 2));
      const laptopEdits = new Set(Array.from({ length: rng.int(3, 8) }, pickHot));
      const pcEdits = new Set(Array.from({ length: rng.int(3, 8) }, pickHot));
      for (const id of laptopEdits) {
        if (!pcEdits.has(id)) continue;
        const base = files[id]!;
        const local = editFile(rng, base, 'laptop');
        const remote = editFile(rng, base, 'pc');
        const deleted = rng.chance(0.03);
        const result: FileResolution = laptop.resolveFile({
          path: `src/file${id}.ts`,
          base: encode(base.join('')),
          local: fileVersion(encode(local.lines.join('')), 2000, false),
          remote: deleted ? null : fileVersion(encode(remote.lines.join('')), 3000, false),
          remoteDevice: 'pc',
          at,
        });
        tally.files++;
        if (deleted) tally.deleteVsEdit++;
        if (result.conflictCopy) tally.fileCopies++;
        if (result.winner === 'merged') {
          const text = decode(result.keep);
          for (const line of [...local.added, ...remote.added]) assert.ok(text.includes(line), `merge dropped ${line.trim()}`);
        }
      }
      if (rng.chance(0.15)) {
        const image = (n: number) => new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, n, rng.int(0, 255)]);
        const result = laptop.resolveFile({ path: 'assets/logo.png', base: image(0), local: fileVersion(image(1), 2000, true), remote: fileVersion(image(2), 3000, true), remoteDevice: 'pc', at });
        assert.ok(result.conflictCopy, 'a binary conflict keeps the other version as a copy');
        tally.files++;
        tally.binary++;
        tally.fileCopies++;
      }
    }

    const total = tally.streams + tally.meta + tally.files;
    const automatic = (total - tally.fileCopies) / total;
    const filesAutomatic = (tally.files - tally.fileCopies) / tally.files;
    console.log(
      `      workload: ${total} conflicts (${tally.streams} stream, ${tally.meta} metadata, ${tally.files} file incl. ${tally.binary} binary, ${tally.deleteVsEdit} delete-vs-edit); ` +
        `without the user: ${(automatic * 100).toFixed(1)}% overall, ${(filesAutomatic * 100).toFixed(1)}% of file conflicts`,
    );
    assert.ok(tally.files >= 20, 'the workload has file conflicts');
    assert.ok(automatic >= 0.95, `only ${(automatic * 100).toFixed(1)}% resolved without the user`);
  });
});
