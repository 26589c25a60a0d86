/** Builders for database tests: users, devices and changes. */
import { randomUUID } from 'node:crypto';
import { asDeviceId, asTaskId, asUserId, asWorkspaceId, type DeviceId, type UserId } from '../../../core/ids';
import type { ClientChange, StreamPutBody, TaskMetaBody, FilePutBody } from '../../../core/model/changes';
import type { Queryable } from '../../../server/db/database';

export async function insertUser(db: Queryable, email = `${randomUUID()}@example.test`): Promise<UserId> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO users (email, password_hash) VALUES ($1, 'scrypt$test') RETURNING id`,
    [email],
  );
  return asUserId(rows[0]!.id);
}

export function newDeviceId(): DeviceId {
  return asDeviceId(randomUUID());
}

export function streamPut(clientSeq: number, key: string, entry: unknown = { text: `entry ${key}` }): ClientChange {
  const body: StreamPutBody = {
    type: 'stream.put',
    source: 'roo-code',
    taskId: asTaskId('task-1'),
    stream: 'ui',
    key,
    hash: 'a'.repeat(64),
    entry,
  };
  return { clientSeq, baseSeq: null, body };
}

export function taskMeta(
  clientSeq: number,
  baseSeq: number | null,
  fields: Record<string, unknown>,
  clock: string,
  taskId = 'task-1',
): ClientChange {
  const body: TaskMetaBody = {
    type: 'task.meta',
    source: 'roo-code',
    taskId: asTaskId(taskId),
    fields,
    clocks: Object.fromEntries(Object.keys(fields).map((f) => [f, clock])),
  };
  return { clientSeq, baseSeq, body };
}

export function filePut(clientSeq: number, baseSeq: number | null, path: string, hash = 'b'.repeat(64)): ClientChange {
  const body: FilePutBody = {
    type: 'file.put',
    workspaceId: asWorkspaceId('ws-1'),
    path,
    hash,
    size: 10,
    mode: 0o644,
    mtime: 1_700_000_000_000,
    binary: false,
  };
  return { clientSeq, baseSeq, body };
}

/** An HLC stamp for `ms` (string order = clock order). */
export function hlc(ms: number, device = 'dev'): string {
  return `${String(ms).padStart(15, '0')}-000000-${device}`;
}
