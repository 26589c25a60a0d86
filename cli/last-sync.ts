/**
 * When `roo-sync sync` last finished a round, kept in the data folder (`last-sync.json`) so
 * `roo-sync status` can say it from another process.
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../core/node/stores/json-file';

export interface LastSync {
  at: number;
  deviceId: string;
}

const FILE = 'last-sync.json';

export async function saveLastSync(dataDir: string, value: LastSync): Promise<void> {
  await writeFileAtomic(join(dataDir, FILE), JSON.stringify(value));
}

export async function loadLastSync(dataDir: string): Promise<LastSync | null> {
  try {
    const value = JSON.parse(await readFile(join(dataDir, FILE), 'utf8')) as LastSync;
    return typeof value.at === 'number' ? value : null;
  } catch {
    return null;
  }
}
