/**
 * The detector's state file: the manifest (path -> hash, size, mode, mtime, binary) of the
 * files as last reported, so a start can find what changed while nothing ran. It is a hint,
 * not a ledger: a missing, unreadable or foreign file just means every file is reported again.
 *
 * Format (JSON): `{ "format": "roo-sync.watch-manifest", "version": 1, "root": "<abs path>",
 * "entries": [[path, hash, size, mode, mtime, binary], ...] }`.
 */
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import type { ManifestEntry } from '../../tracking/manifest';

const FORMAT = 'roo-sync.watch-manifest';
const VERSION = 1;

type Row = [path: string, hash: string, size: number, mode: number, mtime: number, binary: boolean];

/** Reads the manifest saved for `root`; empty when the file is missing, damaged or for another root. */
export async function loadWatchManifest(path: string, root: string): Promise<Map<string, ManifestEntry>> {
  let value: unknown;
  try {
    value = JSON.parse(await fsp.readFile(path, 'utf8'));
  } catch {
    return new Map();
  }
  const doc = value as { format?: unknown; version?: unknown; root?: unknown; entries?: unknown };
  if (doc?.format !== FORMAT || doc.version !== VERSION || doc.root !== root || !Array.isArray(doc.entries)) {
    return new Map();
  }
  const out = new Map<string, ManifestEntry>();
  for (const row of doc.entries as unknown[]) {
    if (!isRow(row)) return new Map();
    const [p, hash, size, mode, mtime, binary] = row;
    out.set(p, { path: p, hash, size, mode, mtime, binary });
  }
  return out;
}

/** Saves the manifest atomically (temp file + rename), creating the folder if needed. */
export async function saveWatchManifest(
  path: string,
  root: string,
  manifest: ReadonlyMap<string, ManifestEntry>,
): Promise<void> {
  const entries: Row[] = [...manifest.values()].map((e) => [e.path, e.hash, e.size, e.mode, e.mtime, e.binary]);
  const text = JSON.stringify({ format: FORMAT, version: VERSION, root, entries });
  await fsp.mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  await fsp.writeFile(temp, text);
  await fsp.rename(temp, path);
}

function isRow(row: unknown): row is Row {
  return (
    Array.isArray(row) &&
    row.length === 6 &&
    typeof row[0] === 'string' &&
    typeof row[1] === 'string' &&
    typeof row[2] === 'number' &&
    typeof row[3] === 'number' &&
    typeof row[4] === 'number' &&
    typeof row[5] === 'boolean'
  );
}
