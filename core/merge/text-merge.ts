/**
 * Three-way merge of text files, line by line, against the base both sides started from.
 */
import diff3Merge from 'diff3';

/** A merge that applies itself, or the number of places where both sides edited the same lines. */
export type TextMergeResult = { kind: 'clean'; text: string } | { kind: 'conflict'; hunks: number };

/**
 * Merges `local` and `remote`, both edited from `base`, with diff3 on lines. Line endings are
 * part of each line, so they are kept exactly (a file that has both `\n` and `\r\n`, or no
 * final newline, comes out the same). Edits to the same or adjacent lines that differ are a
 * conflict; the same edit on both sides is not. Never produces conflict markers.
 */
export function mergeText(base: string, local: string, remote: string): TextMergeResult {
  if (local === remote || remote === base) return { kind: 'clean', text: local };
  if (local === base) return { kind: 'clean', text: remote };

  // diff3 compares elements with ===: comparing small integers (one per distinct line) is much
  // faster than comparing strings.
  const lines: string[] = [];
  const ids = new Map<string, number>();
  const intern = (text: string): number[] =>
    splitLines(text).map((line) => {
      let id = ids.get(line);
      if (id === undefined) {
        id = lines.length;
        ids.set(line, id);
        lines.push(line);
      }
      return id;
    });
  const blocks = diff3Merge(intern(local), intern(base), intern(remote));
  let hunks = 0;
  const out: string[] = [];
  for (const block of blocks) {
    if ('ok' in block) {
      for (const id of block.ok) out.push(lines[id]!);
    } else {
      hunks++;
    }
  }
  return hunks > 0 ? { kind: 'conflict', hunks } : { kind: 'clean', text: out.join('') };
}

/** Splits text into lines, each with its own line ending (`\n` or `\r\n`); the last may have none. */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const newline = text.indexOf('\n', start);
    if (newline < 0) break;
    lines.push(text.slice(start, newline + 1));
    start = newline + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}
