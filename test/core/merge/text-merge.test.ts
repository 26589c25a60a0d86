import assert from 'node:assert/strict';
import diff3Merge from 'diff3';
import { mergeText, splitLines, type TextMergeResult } from '../../../core/merge/text-merge';
import { createRng } from '../../support/rng';

/** diff3 over the whole files at once: what the sync-point shortcut must agree with. */
function wholeFileMerge(base: string, local: string, remote: string): TextMergeResult {
  let hunks = 0;
  const out: string[] = [];
  for (const block of diff3Merge(splitLines(local), splitLines(base), splitLines(remote))) {
    if ('ok' in block) out.push(...block.ok);
    else hunks++;
  }
  return hunks ? { kind: 'conflict', hunks } : { kind: 'clean', text: out.join('') };
}

const lines = (...xs: string[]) => xs.map((x) => `${x}\n`).join('');

describe('mergeText', () => {
  const base = lines('one', 'two', 'three', 'four', 'five', 'six', 'seven');

  it('merges edits to different parts of the file', () => {
    const local = lines('ONE', 'two', 'three', 'four', 'five', 'six', 'seven');
    const remote = lines('one', 'two', 'three', 'four', 'five', 'six', 'SEVEN', 'eight');
    assert.deepEqual(mergeText(base, local, remote), { kind: 'clean', text: lines('ONE', 'two', 'three', 'four', 'five', 'six', 'SEVEN', 'eight') });
  });

  it('reports overlapping edits as a conflict with the number of hunks', () => {
    const local = lines('one', 'TWO-local', 'three', 'four', 'five', 'SIX-local', 'seven');
    const remote = lines('one', 'TWO-remote', 'three', 'four', 'five', 'SIX-remote', 'seven');
    assert.deepEqual(mergeText(base, local, remote), { kind: 'conflict', hunks: 2 });
  });

  it('treats the same edit on both sides as clean', () => {
    const both = lines('one', 'two', 'THREE', 'four', 'five', 'six', 'seven');
    assert.deepEqual(mergeText(base, both, both), { kind: 'clean', text: both });
    const remote = lines('one', 'two', 'THREE', 'four', 'five', 'six', 'seven', 'eight');
    assert.deepEqual(mergeText(base, both, remote), { kind: 'clean', text: remote });
  });

  it('takes the only changed side as it is', () => {
    const changed = 'completely\r\ndifferent';
    assert.deepEqual(mergeText(base, base, changed), { kind: 'clean', text: changed });
    assert.deepEqual(mergeText(base, changed, base), { kind: 'clean', text: changed });
  });

  it('keeps CRLF line endings and a missing final newline', () => {
    const crlfBase = 'a\r\nb\r\nc\r\nd\r\ne';
    const local = 'A\r\nb\r\nc\r\nd\r\ne';
    const remote = 'a\r\nb\r\nc\r\nd\r\nE';
    assert.deepEqual(mergeText(crlfBase, local, remote), { kind: 'clean', text: 'A\r\nb\r\nc\r\nd\r\nE' });
  });

  it('never returns text with conflict markers', () => {
    const result = mergeText('x\n', 'local\n', 'remote\n');
    assert.equal(result.kind, 'conflict');
    assert.equal('text' in result, false);
  });

  it('merges 50 edits per side in a 5,000-line file', () => {
    const baseLines = Array.from({ length: 5000 }, (_, i) => `line ${i}\n`);
    const local = [...baseLines];
    const remote = [...baseLines];
    for (let i = 0; i < 50; i++) {
      local[i * 100 + 10] = `local ${i}\n`;
      remote[i * 100 + 60] = `remote ${i}\n`;
    }
    const result = mergeText(baseLines.join(''), local.join(''), remote.join(''));
    assert.equal(result.kind, 'clean');
    const merged = splitLines((result as { text: string }).text);
    assert.equal(merged[10], 'local 0\n');
    assert.equal(merged[4960], 'remote 49\n');
    assert.equal(merged.length, 5000);
  });
});

describe('mergeText against whole-file diff3', () => {
  it('gives the same result on random edits: repeated lines, CRLF, no final newline (seed 1-800)', () => {
    for (let seed = 1; seed <= 800; seed++) {
      const rng = createRng(seed);
      const eol = () => (rng.chance(0.2) ? '\r\n' : '\n');
      const base = Array.from({ length: rng.int(0, 50) }, (_, i) =>
        rng.chance(0.2) ? rng.pick(['}', '', '  return x;']) + eol() : `line ${i % 9} ${rng.int(0, 3)}${eol()}`,
      );
      const edit = (tag: string) => {
        const out = [...base];
        for (let e = rng.int(0, 4); e > 0; e--) {
          const at = rng.int(0, out.length);
          const fresh = Array.from({ length: rng.int(1, 3) }, (_, k) => (rng.chance(0.2) ? '}\n' : `${tag} ${e}.${k}${eol()}`));
          const op = rng.int(0, 3);
          if (op === 0) out.splice(at, rng.int(1, 2), ...fresh);
          else if (op === 1) out.splice(at, 0, ...fresh);
          else if (op === 2) out.splice(at, 1);
          else if (out.length) out[out.length - 1] = out[out.length - 1]!.replace(/\r?\n$/, '');
        }
        return out.join('');
      };
      const [b, l, r] = [base.join(''), edit('L'), edit('R')];
      assert.deepEqual(mergeText(b, l, r), wholeFileMerge(b, l, r), `seed ${seed}`);
    }
  });
});

describe('splitLines', () => {
  it('keeps each line ending with its line', () => {
    assert.deepEqual(splitLines('a\nb\r\n\nc'), ['a\n', 'b\r\n', '\n', 'c']);
    assert.deepEqual(splitLines(''), []);
    assert.deepEqual(splitLines('x\n'), ['x\n']);
  });
});
