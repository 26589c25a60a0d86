/** Change bodies for outbox tests. */
import { asTaskId, asWorkspaceId } from '../../../core/ids';
import type { ChangeBody, EntryKey } from '../../../core/model/changes';
import type { ChangeInput } from '../../../core/outbox/outbox-state';

const WS = asWorkspaceId('ws-1');

export function filePut(path: string, version = 1): ChangeBody {
  return {
    type: 'file.put',
    workspaceId: WS,
    path,
    hash: version.toString(16).padStart(64, '0'),
    size: version,
    mode: 0o644,
    mtime: 1_700_000_000_000 + version,
    binary: false,
  };
}

export function fileDelete(path: string): ChangeBody {
  return { type: 'file.delete', workspaceId: WS, path };
}

export function taskMeta(taskId: string, fields: Record<string, unknown>, clock: string): ChangeBody {
  const clocks = Object.fromEntries(Object.keys(fields).map((k) => [k, clock]));
  return { type: 'task.meta', source: 'roo-code', taskId: asTaskId(taskId), fields, clocks };
}

export function streamPut(taskId: string, key: EntryKey, text: string): ChangeBody {
  return {
    type: 'stream.put',
    source: 'roo-code',
    taskId: asTaskId(taskId),
    stream: 'ui',
    key,
    hash: 'h'.repeat(64),
    entry: { ts: Number(key.split(':')[0]), type: 'say', say: 'text', text },
  };
}

export function streamTruncate(taskId: string, afterKey: EntryKey | null): ChangeBody {
  return { type: 'stream.truncate', source: 'roo-code', taskId: asTaskId(taskId), stream: 'ui', afterKey };
}

/** Wraps bodies as enqueue inputs with no base version. */
export function inputs(...bodies: ChangeBody[]): ChangeInput[] {
  return bodies.map((body) => ({ body, baseSeq: null }));
}
