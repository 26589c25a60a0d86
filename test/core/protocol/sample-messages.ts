/** One valid example of every wire message and change body, for the protocol suites. */
import { entityKeyOf, type ChangeBody, type ClientChange, type ServerChange } from '../../../core/model/changes';
import { hashJson } from '../../../core/model/hash';
import { asCommandId, asDeviceId, asRequestId, asTaskId, asUserId, asWorkspaceId } from '../../../core/ids';
import type { ClientMessage, ServerMessage } from '../../../core/protocol/messages';

const taskId = asTaskId('0199a3b2-7c1e-7d2f-9a41-3f5e6d7c8b9a');
const deviceId = asDeviceId('dev-laptop-01');
const uiEntry = { ts: 1759497617863, type: 'say', say: 'text', text: 'Reading `src/app.ts` now.', partial: false };

export const SAMPLE_BODIES: ChangeBody[] = [
  {
    type: 'task.meta',
    source: 'roo-code',
    taskId,
    fields: { task: 'Fix the login bug', totalCost: 0.42, tokensIn: 1200, workspace: null },
    clocks: {
      task: '001759497617863-000000-dev-laptop-01',
      totalCost: '001759497617900-000001-dev-laptop-01',
      tokensIn: '001759497617900-000002-dev-laptop-01',
      workspace: '001759497617901-000000-dev-laptop-01',
    },
  },
  { type: 'task.delete', source: 'cline', taskId: asTaskId('1712345678901'), clock: '001759497617863-000000-dev-laptop-01' },
  { type: 'stream.put', source: 'roo-code', taskId, stream: 'ui', key: '1759497617863:0', hash: hashJson(uiEntry), entry: uiEntry },
  {
    type: 'stream.put',
    source: 'kilo-code',
    taskId,
    stream: 'api',
    key: '7',
    hash: hashJson({ role: 'user', content: 'hi' }),
    entry: { role: 'user', content: 'hi' },
  },
  { type: 'stream.truncate', source: 'zoo-code', taskId, stream: 'ui', afterKey: '1759497617863:1' },
  { type: 'stream.truncate', source: 'roo-code', taskId, stream: 'api', afterKey: null },
  {
    type: 'file.put',
    workspaceId: asWorkspaceId('ws-7f3a'),
    path: 'src/app.ts',
    hash: 'a'.repeat(64),
    size: 1234,
    mode: 0o100644,
    mtime: 1759497617863.25,
    binary: false,
  },
  { type: 'file.delete', workspaceId: asWorkspaceId('ws-7f3a'), path: 'docs/old notes.md' },
];

export const SAMPLE_CLIENT_CHANGES: ClientChange[] = SAMPLE_BODIES.map((body, i) => ({
  clientSeq: i + 1,
  baseSeq: i % 2 ? null : i * 3,
  body,
}));

export const SAMPLE_SERVER_CHANGES: ServerChange[] = SAMPLE_CLIENT_CHANGES.map((change, i) => ({
  ...change,
  seq: 100 + i,
  deviceId,
  entity: entityKeyOf(change.body),
}));

const command = { kind: 'task.message', taskId, text: 'Also add a test.', images: ['data:image/png;base64,iVBORw0KGgo='], priority: 5, ttlMs: 60_000 } as const;

export const SAMPLE_CLIENT_MESSAGES: ClientMessage[] = [
  { type: 'hello', protocolVersions: [1], codecs: ['brotli', 'deflate', 'none'], token: 'tok.abc-123', deviceId, cursor: 42 },
  { type: 'auth', id: asRequestId('r1'), token: 'tok.new-456' },
  { type: 'push', id: asRequestId('r2'), changes: SAMPLE_CLIENT_CHANGES },
  { type: 'pull', id: asRequestId('r3'), cursor: 0, limit: 500 },
  { type: 'command.send', id: asRequestId('r4'), targetDeviceId: asDeviceId('dev-desktop'), command: { ...command, images: [...command.images] } },
  { type: 'command.response', id: asRequestId('r5'), commandId: asCommandId('cmd-9'), status: 'done', result: { ok: true } },
  {
    type: 'command.response',
    id: asRequestId('r6'),
    commandId: asCommandId('cmd-10'),
    status: 'failed',
    error: { code: 'ASSISTANT_MISSING', message: 'Roo Code is not installed' },
  },
  { type: 'presence.update', state: 'busy', activeTaskId: taskId },
  { type: 'ping', id: asRequestId('r7') },
];

export const SAMPLE_SERVER_MESSAGES: ServerMessage[] = [
  { type: 'welcome', protocolVersion: 1, codec: 'brotli', userId: asUserId('user-1'), deviceId, serverCursor: 120, resync: false, lastClientSeq: 37 },
  { type: 'auth.ok', replyTo: asRequestId('r1') },
  { type: 'ack', replyTo: asRequestId('r2'), accepted: [{ clientSeq: 1, seq: 100 }, { clientSeq: 2, seq: 101 }] },
  {
    type: 'conflict',
    replyTo: asRequestId('r2'),
    accepted: [{ clientSeq: 2, seq: 101 }],
    conflicts: [{ clientSeq: 1, entity: SAMPLE_SERVER_CHANGES[0]!.entity, current: SAMPLE_SERVER_CHANGES[0]! }],
  },
  { type: 'changes', replyTo: asRequestId('r3'), changes: SAMPLE_SERVER_CHANGES, cursor: 107, hasMore: true },
  { type: 'changes', changes: [SAMPLE_SERVER_CHANGES[2]!], cursor: 102, hasMore: false },
  { type: 'error', replyTo: asRequestId('r9'), code: 'PROTOCOL_INVALID_FIELD', message: 'changes[0].body.key: expected ui key' },
  { type: 'error', code: 'RATE_LIMITED', message: 'slow down' },
  { type: 'command.queued', replyTo: asRequestId('r4'), commandId: asCommandId('cmd-9'), expiresAt: 1759497677863 },
  { type: 'command.deliver', commandId: asCommandId('cmd-9'), fromDeviceId: deviceId, command: { kind: 'task.start', text: 'Write a README' }, attempt: 1 },
  { type: 'command.result', commandId: asCommandId('cmd-9'), targetDeviceId: asDeviceId('dev-desktop'), status: 'expired' },
  { type: 'presence', deviceId: asDeviceId('dev-desktop'), state: 'online' },
  { type: 'pong', replyTo: asRequestId('r7') },
];
